package model

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The numbered steps of docs/layout.md ("Procedures, step by step", and
// every other section between the same BEGIN/END markers, such as the
// listener's) and the STEP(name.n) tags of the sources must agree: every
// listed step is carried out, and tagged, in Go and in C; nothing is tagged
// that is not listed. A step that only one implementation carries out says
// so on its definition line with the marker "(Go only)" (the C API has only
// the client side of a listener): the other language is then not asked for
// it, and must not tag it.
//
// To tag a site, put the step's tag in a comment next to its SYNC tag:
//
//	// STEP(send.6) SYNC(record): release (seq_cst); publishes ...
//	/* STEP(send.6) SYNC(record): seq_cst store. ... */
//
// A site that carries out several steps carries several tags; a step done
// in several places (the sender's and the receiver's park) is tagged in each.

const (
	layoutFile = "../docs/layout.md"
	stepsBegin = "<!-- BEGIN procedure steps"
	stepsEnd   = "<!-- END procedure steps"
)

var (
	// A definition: a numbered list item that opens with the step's tag.
	reDefinition = regexp.MustCompile("^\\s*(\\d+)\\.\\s+`?STEP\\(([a-z][a-z_]*)\\.(\\d+)\\)")
	// A tag anywhere.
	reTag = regexp.MustCompile(`STEP\(([a-z][a-z_]*\.\d+)\)`)
)

// goOnly marks a definition whose step C does not carry out.
const goOnly = "(Go only)"

// A site is where a tag appears.
type site struct {
	file string
	line int
}

func (s site) String() string { return fmt.Sprintf("%s:%d", s.file, s.line) }

// parseSteps returns the steps that the procedure section of layout lists,
// in order, and every inconsistency of the list itself: a step defined
// twice, steps of a procedure not numbered 1, 2, 3..., a list number that is
// not the step's number, or a tag in the document that names no listed step.
// It also returns the steps marked goOnly.
func parseSteps(layout string) (steps []string, only map[string]bool, problems []string) {
	type section struct{ begin, end int }
	var sections []section
	for rest := 0; ; {
		b := strings.Index(layout[rest:], stepsBegin)
		if b < 0 {
			break
		}
		b += rest
		e := strings.Index(layout[b:], stepsEnd)
		if e < 0 {
			return nil, nil, []string{fmt.Sprintf("a section opened by %q is not closed by %q", stepsBegin, stepsEnd)}
		}
		sections = append(sections, section{b, b + e})
		rest = b + e + len(stepsEnd)
	}
	if len(sections) == 0 {
		return nil, nil, []string{fmt.Sprintf("no section between %q and %q", stepsBegin, stepsEnd)}
	}
	next := map[string]int{} // procedure -> next step number expected
	defined := map[string]bool{}
	only = map[string]bool{}
	var lines []string
	var lineNo []int
	for _, sec := range sections {
		offset := strings.Count(layout[:sec.begin], "\n")
		for i, line := range strings.Split(layout[sec.begin:sec.end], "\n") {
			lines = append(lines, line)
			lineNo = append(lineNo, offset+i+1)
		}
	}
	for i, line := range lines {
		m := reDefinition.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		item, _ := strconv.Atoi(m[1])
		proc, n := m[2], m[3]
		num, _ := strconv.Atoi(n)
		step := proc + "." + n
		at := fmt.Sprintf("layout.md:%d", lineNo[i])
		switch {
		case defined[step]:
			problems = append(problems, fmt.Sprintf("%s: STEP(%s) defined twice", at, step))
			continue
		case num != next[proc]+1:
			problems = append(problems, fmt.Sprintf("%s: STEP(%s) follows %s.%d", at, step, proc, next[proc]))
		case item != num:
			problems = append(problems, fmt.Sprintf("%s: STEP(%s) is list item %d", at, step, item))
		}
		next[proc] = num
		defined[step] = true
		if strings.Contains(line, goOnly) {
			only[step] = true
		}
		steps = append(steps, step)
	}
	for i, line := range strings.Split(layout, "\n") {
		for _, m := range reTag.FindAllStringSubmatch(line, -1) {
			if !defined[m[1]] {
				problems = append(problems, fmt.Sprintf("layout.md:%d: STEP(%s) is not listed", i+1, m[1]))
			}
		}
	}
	return steps, only, problems
}

// findTags returns the tags in text, with their lines, keyed by step.
func findTags(file, text string, into map[string][]site) {
	for i, line := range strings.Split(text, "\n") {
		for _, m := range reTag.FindAllStringSubmatch(line, -1) {
			into[m[1]] = append(into[m[1]], site{file, i + 1})
		}
	}
}

// scan collects the tags of the files under roots (relative to the module
// root) whose names pass keep.
func scan(t *testing.T, roots []string, keep func(path string) bool) map[string][]site {
	t.Helper()
	tags := map[string][]site{}
	for _, root := range roots {
		err := filepath.WalkDir(filepath.Join("..", root), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !keep(path) {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel("..", path)
			findTags(rel, string(b), tags)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return tags
}

func goSource(path string) bool {
	return strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go")
}

func cSource(path string) bool {
	// shm/c/*.c only: the library, not its tests or examples below it.
	return filepath.Dir(path) == filepath.Join("..", "shm", "c") && strings.HasSuffix(path, ".c")
}

// checkTags compares the listed steps with the tags of each language and
// returns what disagrees.
func checkTags(steps []string, langs map[string]map[string][]site) []string {
	return checkTagsExempt(steps, langs, nil)
}

// checkTagsExempt is checkTags where exempt[lang] lists the steps that lang
// does not carry out: they must not be tagged there.
func checkTagsExempt(steps []string, langs map[string]map[string][]site, exempt map[string]map[string]bool) []string {
	listed := map[string]bool{}
	for _, s := range steps {
		listed[s] = true
	}
	var problems []string
	for _, lang := range slices.Sorted(maps.Keys(langs)) {
		tags := langs[lang]
		var missing []string
		for _, s := range steps {
			if exempt[lang][s] {
				if len(tags[s]) > 0 {
					problems = append(problems, fmt.Sprintf("%s: STEP(%s) at %v is marked %s in docs/layout.md", lang, s, tags[s], goOnly))
				}
				continue
			}
			if len(tags[s]) == 0 {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d steps not tagged: %s", lang, len(missing), strings.Join(missing, " ")))
		}
		for _, s := range slices.Sorted(maps.Keys(tags)) {
			if !listed[s] {
				problems = append(problems, fmt.Sprintf("%s: STEP(%s) at %v is not listed in docs/layout.md", lang, s, tags[s]))
			}
		}
	}
	return problems
}

// TestSteps checks layout.md's step list, the models' tags against it, and
// the Go and C sources' tags against it.
func TestSteps(t *testing.T) {
	b, err := os.ReadFile(layoutFile)
	if err != nil {
		t.Fatal(err)
	}
	steps, only, problems := parseSteps(string(b))
	for _, p := range problems {
		t.Error(p)
	}
	if len(steps) == 0 {
		t.Fatal("docs/layout.md lists no steps")
	}
	t.Logf("docs/layout.md lists %d steps", len(steps))

	// The models: every tag names a listed step; the steps they do not
	// model are logged (the models are abstractions, not a third copy).
	models := scan(t, []string{"model"}, func(p string) bool { return strings.HasSuffix(p, ".pml") })
	for _, p := range checkTags(steps, map[string]map[string][]site{"model": models}) {
		if strings.Contains(p, "not tagged") {
			t.Logf("%s (not modelled)", p)
		} else {
			t.Error(p)
		}
	}

	goTags := scan(t, []string{"shm", "sync", "internal"}, goSource)
	cTags := scan(t, []string{filepath.Join("shm", "c")}, cSource)
	for _, p := range checkTagsExempt(steps, map[string]map[string][]site{"Go": goTags, "C": cTags},
		map[string]map[string]bool{"C": only}) {
		t.Error(p)
	}
}

// TestStepsChecker checks the checker on a small document and sources,
// including the failures the real ones do not have.
func TestStepsChecker(t *testing.T) {
	doc := strings.Join([]string{
		"# x",
		"A mention of STEP(a.1) before the list is fine.",
		stepsBegin + " -->",
		"1. `STEP(a.1)` one",
		"2. `STEP(a.2)` two",
		"1. `STEP(b.1)` one",
		"3. `STEP(b.3)` skips b.2",
		"2. `STEP(a.2)` again",
		"4. STEP(c.1) numbered 4",
		stepsEnd + " -->",
		"See STEP(z.9).",
		stepsBegin + " (a second section) -->",
		"1. STEP(d.1) (Go only) the server's half",
		stepsEnd + " -->",
	}, "\n")
	steps, only, problems := parseSteps(doc)
	if want := []string{"a.1", "a.2", "b.1", "b.3", "c.1", "d.1"}; !slices.Equal(steps, want) {
		t.Errorf("steps %v, want %v", steps, want)
	}
	if !only["d.1"] || len(only) != 1 {
		t.Errorf("Go-only steps %v, want d.1", only)
	}
	wantProblems := []string{"STEP(b.3) follows b.1", "STEP(a.2) defined twice", "STEP(c.1) is list item 4", "STEP(z.9) is not listed"}
	if len(problems) != len(wantProblems) {
		t.Errorf("problems %q, want %d", problems, len(wantProblems))
	}
	for _, w := range wantProblems {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
			t.Errorf("no problem %q in %q", w, problems)
		}
	}

	goTags, cTags := map[string][]site{}, map[string][]site{}
	findTags("x.go", "// STEP(a.1) SYNC(x)\n// STEP(a.2) STEP(b.1)\n// STEP(b.3)\n// STEP(c.1) STEP(d.1)", goTags)
	findTags("x.c", "/* STEP(a.1) */\n/* STEP(a.9) */\n/* STEP(d.1) */", cTags)
	got := checkTagsExempt(steps, map[string]map[string][]site{"Go": goTags, "C": cTags}, map[string]map[string]bool{"C": only})
	want := []string{
		"C: STEP(d.1) at [x.c:3] is marked (Go only) in docs/layout.md",
		"C: 4 steps not tagged: a.2 b.1 b.3 c.1",
		"C: STEP(a.9) at [x.c:2] is not listed in docs/layout.md",
	}
	if !slices.Equal(got, want) {
		t.Errorf("checkTags:\n got %q\nwant %q", got, want)
	}
}
