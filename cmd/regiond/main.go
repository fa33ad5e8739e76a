// Command regiond serves the region registry API. `regiond --help` lists its commands and flags.
package main

import (
	"os"

	"github.com/regiond/regiond/internal/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
