package interop_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shmchan/shmchan/shm"
)

var sanitize = []string{"-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"}

// TestCUnit runs the C unit tests (shm/c/tests/test_shmchan.c), optimised
// and under AddressSanitizer and UndefinedBehaviorSanitizer. Each run prints
// "PASS" last; the sanitizers abort on their first report.
func TestCUnit(t *testing.T) {
	for _, v := range []struct {
		name  string
		flags []string
	}{
		{"O2", []string{"-O2"}},
		{"sanitize=address,undefined", sanitize},
	} {
		t.Run(v.name, func(t *testing.T) {
			key := "test_shmchan-" + strings.NewReplacer("=", "-", ",", "-").Replace(v.name)
			bin := buildC(t, key, []string{"../tests/test_shmchan.c"}, v.flags...)
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(),
				"ASAN_OPTIONS=detect_leaks=1:abort_on_error=1",
				"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
			out, err := cmd.CombinedOutput()
			t.Logf("%s", out)
			if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "PASS") {
				t.Fatalf("C unit tests: %v", err)
			}
		})
	}
}

// TestCompilers compiles the library with -std=c11 -Wall -Wextra -Werror
// -pedantic, and the header from C++ (g++ -std=c++17 with the same warnings),
// linking and running the C++ check.
func TestCompilers(t *testing.T) {
	compiler := cc(t)
	dir := t.TempDir()
	obj := filepath.Join(dir, "shmchan.o")
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run(compiler, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-c", cLibrary, "-o", obj)

	cxx, err := exec.LookPath("c++")
	if err != nil {
		if cxx, err = exec.LookPath("g++"); err != nil {
			t.Skipf("no C++ compiler (c++ or g++) on PATH; .ci/run installs g++: %v", err)
		}
	}
	bin := filepath.Join(dir, "cxx_check")
	args := []string{"-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I" + cDir, "../tests/cxx_check.cpp", obj, "-o", bin}
	if runtime.GOOS == "linux" {
		args = append(args, "-lrt")
	}
	run(cxx, args...)
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok   cxx") {
		t.Fatalf("cxx_check: %v\n%s", err, out)
	}
}

// TestCompilerMinGW cross-compiles the library for Windows with mingw-w64
// (-std=c11 -Wall -Wextra -Werror -pedantic), where it is installed: the
// Windows build is then checked by every Linux run, not only by
// .ci/windows.sh, which also runs it under Wine.
func TestCompilerMinGW(t *testing.T) {
	const mingw = "x86_64-w64-mingw32-gcc"
	path, err := exec.LookPath(mingw)
	if err != nil {
		t.Skipf("%s not on PATH (.ci/windows.sh installs gcc-mingw-w64-x86-64): %v", mingw, err)
	}
	obj := filepath.Join(t.TempDir(), "shmchan.obj")
	args := []string{"-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-c", cLibrary, "-o", obj}
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", mingw, strings.Join(args, " "), err, out)
	}
}

// TestExamples runs the C examples (examples/c) against Go code that does
// what the Go examples in examples/c/go do: the C consumer with a Go
// producer, and the C producer with a Go consumer.
func TestExamples(t *testing.T) {
	const examples = "../../../examples/c/"
	producer := buildC(t, "producer", []string{examples + "producer.c"}, "-O2")
	consumer := buildC(t, "consumer", []string{examples + "consumer.c"}, "-O2")
	const count = 5

	t.Run("c-consumer", func(t *testing.T) {
		name := newName(t)
		cmd := exec.Command(consumer, name)
		cmd.Stderr = &testWriter{t: t, prefix: "consumer"}
		var out strings.Builder
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ch, _, err := shm.OpenOrCreateChannel(name, 1<<16, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		tx, err := ch.Sender()
		if err != nil {
			t.Fatal(err)
		}
		for i := range count {
			if err := tx.Send(fmt.Appendf(nil, "message %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Close(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("C consumer: %v\n%s", err, out.String())
		}
		want := "message 0\nmessage 1\nmessage 2\nmessage 3\nmessage 4\nconsumer: received 5 messages\n"
		if out.String() != want {
			t.Fatalf("C consumer printed %q, want %q", out.String(), want)
		}
	})
	t.Run("c-producer", func(t *testing.T) {
		name := newName(t)
		ch, _, err := shm.OpenOrCreateChannel(name, 1<<16, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		rx, err := ch.Receiver()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(producer, name, fmt.Sprint(count))
		cmd.Stderr = &testWriter{t: t, prefix: "producer"}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ctx := testContext(t, time.Minute)
		for i := range count {
			msg, err := rx.RecvContext(ctx, nil)
			if want := fmt.Sprintf("message %d", i); err != nil || string(msg) != want {
				t.Fatalf("Recv = %q, %v; want %q", msg, err, want)
			}
		}
		if _, err := rx.RecvContext(ctx, nil); !errors.Is(err, io.EOF) {
			t.Fatalf("Recv after the C producer closed: %v, want io.EOF", err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("C producer: %v", err)
		}
	})
}
