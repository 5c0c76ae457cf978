// Command shmchan looks at and cleans up the shared-memory objects of shmchan
// programs, and checks a machine or container for what breaks them.
//
//	shmchan ls [--json] [--no-raw]      every object in /dev/shm: kind, size, fill, who holds each role
//	shmchan inspect [--json] NAME       every header field, decoded, and the library's verdict
//	shmchan stat [--count N] NAME...    live rates from the objects' counters, every second
//	shmchan rm [--force] NAME...        remove objects (not one a live process holds, without --force)
//	shmchan gc [--yes] [--json]         list (and with --yes remove) objects nobody alive holds
//	shmchan doctor [--need SIZE]        /dev/shm size and free space, permissions, namespaces, kernel features
//
// Install it with
//
//	go install github.com/shmchan/shmchan/cmd/shmchan@latest
//
// Exit status: 0 when all went well, 1 when something failed or a check
// found a problem (inspect of an unsound object, gc that found leftovers it
// did not remove, doctor with a failed check), 2 for a usage error. It reads
// objects through a read-only mapping and never claims a role; only rm and
// gc --yes change anything. docs/troubleshooting.md shows it at work.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit statuses.
const (
	exitOK      = 0
	exitProblem = 1
	exitUsage   = 2
)

// command is one subcommand.
type command struct {
	name  string
	args  string // usage after the name
	short string
	run   func(c *cli, args []string) int
}

// commands is filled by init: the commands' own usage refers to it.
var commands []command

func init() {
	commands = []command{
		{"ls", "[--json] [--no-raw] [--prefix P]", "list every object: kind, size, fill, roles", runLs},
		{"inspect", "[--json] NAME", "show every header field of an object, decoded, and validate it", runInspect},
		{"stat", "[--count N] [--interval D] [--json] NAME...", "print live rates from the objects' counters", runStat},
		{"rm", "[--force] NAME...", "remove objects", runRm},
		{"gc", "[--yes] [--json] [--prefix P]", "list objects nobody alive holds; remove them with --yes", runGC},
		{"doctor", "[--need SIZE] [--json]", "check /dev/shm, permissions, namespaces and kernel features", runDoctor},
	}
}

// cli is one invocation: where output goes.
type cli struct {
	stdout, stderr io.Writer
	stop           <-chan struct{} // closed on interrupt (stat's loop ends)
}

func main() {
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, stop: interrupted()}
	os.Exit(c.main(os.Args[1:]))
}

// main runs one command line and returns the exit status.
func (c *cli) main(args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		c.usage(c.stdout)
		return exitOK
	}
	for _, cmd := range commands {
		if cmd.name == args[0] {
			return cmd.run(c, args[1:])
		}
	}
	fmt.Fprintf(c.stderr, "shmchan: unknown command %q\n", args[0])
	c.usage(c.stderr)
	return exitUsage
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: shmchan COMMAND [flags] [args]   (shmchan COMMAND -h for a command's flags)")
	fmt.Fprintln(w)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", cmd.name, cmd.short)
	}
	fmt.Fprintln(w, "\nexit status: 0 ok, 1 failure or problem found, 2 usage error")
}

// flags makes a subcommand's flag set, which writes its help and errors to
// stderr.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("shmchan "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	for _, cmd := range commands {
		if cmd.name == name {
			fs.Usage = func() {
				fmt.Fprintf(c.stderr, "usage: shmchan %s %s\n\n%s.\n\n", name, cmd.args, upper(cmd.short))
				fs.PrintDefaults()
			}
		}
	}
	return fs
}

// parse parses a subcommand's flags; done reports that the caller should
// return status at once (-h, or a usage error). want checks the number of
// positional arguments: "none", "one", "some".
func (c *cli) parse(fs *flag.FlagSet, args []string, want string) (status int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitUsage, true
	}
	n := fs.NArg()
	if (want == "none" && n != 0) || (want == "one" && n != 1) || (want == "some" && n == 0) {
		fmt.Fprintf(c.stderr, "%s: wrong number of arguments (%d)\n", fs.Name(), n)
		fs.Usage()
		return exitUsage, true
	}
	return exitOK, false
}

func upper(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// errorf prints an error on stderr.
func (c *cli) errorf(format string, a ...any) {
	fmt.Fprintf(c.stderr, "shmchan: "+format+"\n", a...)
}
