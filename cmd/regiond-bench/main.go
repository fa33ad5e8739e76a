// Command regiond-bench holds the Go helpers of `make bench` (scripts/bench.sh): the ceiling server, the
// bulk seeding of a large database, and the report. The script starts the processes, drives them
// with wrk and records raw numbers; this program does what is awkward in bash.
//
//	regiond-bench ceiling --body FILE [--addr 127.0.0.1:0]   serve FILE's bytes, print the address
//	regiond-bench seed --database DSN --count N              insert N regions in batches, fast
//	regiond-bench report --results FILE --meta FILE [--markdown OUT]
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: regiond-bench ceiling|seed|report [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "ceiling":
		err = ceilingCmd(os.Args[2:])
	case "seed":
		err = seedCmd(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want ceiling, seed or report)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "regiond-bench:", err)
		os.Exit(1)
	}
}
