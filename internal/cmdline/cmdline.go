// Package cmdline runs a kong command line in-process and turns its outcome into an exit code:
// kong's own exits (after --help, on a usage error) do not end the process, so commands can be
// run by tests like any function.
package cmdline

import "github.com/alecthomas/kong"

type exitCode int

// Exit is the kong option Run needs: kong's exits come back to Run instead of calling os.Exit.
func Exit() kong.Option {
	return kong.Exit(func(code int) { panic(exitCode(code)) })
}

// Run parses args and runs the chosen command: a usage error is exit code 2, kong's own exits keep
// their code, and a command's error is worded and numbered by report.
func Run(parser *kong.Kong, args []string, report func(error) int) (code int) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exitCode)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		parser.Errorf("%s", err)
		return 2
	}
	if err := kctx.Run(); err != nil {
		return report(err)
	}
	return 0
}
