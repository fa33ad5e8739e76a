// Command regiond-bench holds the Go helpers of `make bench` (scripts/bench.sh): the ceiling
// server, the bulk seeding of a large database, and the report. The script starts the processes,
// drives them with wrk and records raw numbers; this program does what is awkward in bash.
//
//	regiond-bench ceiling --body FILE [--headers FILE] [--addr 127.0.0.1:0]   serve FILE's bytes, print the address
//	regiond-bench seed --database DSN --count N              insert N regions in batches, fast
//	regiond-bench rbdapi [--addr 127.0.0.1:0]                a fake region API to probe, print the address
//	regiond-bench report --results FILE --meta FILE [--markdown OUT]
package main

import "github.com/alecthomas/kong"

type cli struct {
	Ceiling ceilingCmd `cmd:"" help:"Serve one file's bytes to every request: the ceiling regiond is compared with."`
	Seed    seedCmd    `cmd:"" help:"Insert many regions straight into a database."`
	RBDAPI  rbdapiCmd  `cmd:"" name:"rbdapi" help:"Serve a fake region API (rbd-api) for the probing benchmark."`
	Report  reportCmd  `cmd:"" help:"Print the results of a run, and write them as Markdown."`
}

func main() {
	var c cli
	ctx := kong.Parse(&c, kong.Name("regiond-bench"), kong.Description("The Go helpers of make bench (scripts/bench.sh)."))
	ctx.FatalIfErrorf(ctx.Run())
}
