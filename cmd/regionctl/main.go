// Command regionctl is the command-line client of regiond. `regionctl --help` lists its commands.
package main

import (
	"os"

	"github.com/regiond/regiond/internal/regionctl"
)

func main() {
	os.Exit(regionctl.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
