// Package regionctl is the regionctl command: a client of the regiond API built on the generated
// Go client (gen/client). Main runs it in-process, so that tests drive it against a real server.
package regionctl

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/alecthomas/kong"

	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/cmdline"
)

// CLI is the command line of regionctl.
type CLI struct {
	Server  string           `placeholder:"URL" help:"The regiond server, e.g. http://localhost:8080 (else $REGIOND_URL, else server: in the config file)."`
	Token   string           `placeholder:"TOKEN" help:"The API token (else $REGIOND_TOKEN, else token: in the config file). Prefer those two: a flag is visible to other local users."`
	Config  string           `type:"path" placeholder:"PATH" help:"The config file (default $XDG_CONFIG_HOME/regionctl/config.yaml, or ~/.config/regionctl/config.yaml)."`
	Timeout time.Duration    `default:"30s" help:"Deadline of each request to the server."`
	Version kong.VersionFlag `help:"Print regionctl's version, and that of the openapi.yaml it validates against, and exit."`

	List      ListCmd      `cmd:"" help:"List regions (a table by default; -o json or yaml)."`
	Get       GetCmd       `cmd:"" help:"Show one region (its ETag goes to stderr)."`
	Create    CreateCmd    `cmd:"" help:"Create a region from a YAML or JSON file."`
	Apply     ApplyCmd     `cmd:"" help:"Create the region of a YAML or JSON file, or update the region of that region_name to match it."`
	Delete    DeleteCmd    `cmd:"" help:"Delete a region."`
	SetStatus SetStatusCmd `cmd:"" name:"set-status" help:"Set a region's status: 0..3, or editing, enabled, disabled, maintenance."`
	Health    HealthCmd    `cmd:"" help:"Show what the server's prober last saw of every region (a table), or of one in full; --now probes it first."`
	Validate  ValidateCmd  `cmd:"" help:"Check a JSON request body against the API description, offline (no server, no token)."`
}

// Main parses args and runs the chosen command. It returns the exit code: 0 on success, 1 when the
// server or the input refused the work, 2 for a bad command line or configuration. getenv reads
// the environment (os.Getenv in the real command).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	var cli CLI
	rc := &runContext{cli: &cli, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	parser, err := kong.New(&cli,
		kong.Name("regionctl"),
		kong.Description("The command-line client of regiond, the region (data center) registry.\n\n"+
			"The server and token come from --server/--token, else REGIOND_URL/REGIOND_TOKEN, else the config file\n"+
			"(keys server: and token:; it must not be readable by others when it holds a token)."),
		kong.Writers(stdout, stderr),
		kong.ShortUsageOnError(),
		kong.Bind(rc),
		kong.Vars{"version": version()},
		cmdline.Exit(),
	)
	if err != nil {
		fmt.Fprintln(stderr, "regionctl:", err)
		return 2
	}
	return cmdline.Run(parser, args, func(err error) int { return report(stderr, err) })
}

// Version is regionctl's version, set at build time
// (-ldflags "-X github.com/regiond/regiond/internal/regionctl.Version=..."); without it, the module
// version Go recorded (a `go install ...@vX.Y.Z` build), else "dev".
var Version = ""

// version is what --version prints: regionctl's version, and the API version of the openapi.yaml
// built into it (the one validate checks against).
func version() string {
	v := Version
	if info, ok := debug.ReadBuildInfo(); v == "" && ok && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if v == "" {
		v = "dev"
	}
	api := "unknown"
	if spec, err := apispec.Load(); err == nil {
		api = spec.Info.Version
	}
	return fmt.Sprintf("regionctl %s (openapi.yaml %s)", v, api)
}

// report prints err and returns the exit code it deserves.
func report(stderr io.Writer, err error) int {
	var quiet *quietError
	if errors.As(err, &quiet) {
		return quiet.code
	}
	fmt.Fprintln(stderr, "regionctl:", err)
	var usage *usageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}

// usageError is a bad command line or configuration: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// quietError ends a command that has already said what went wrong (validate's report).
type quietError struct{ code int }

func (e *quietError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// runContext is what every command gets: the streams, the environment and the global flags.
type runContext struct {
	cli            *CLI
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}
