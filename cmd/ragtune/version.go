package main

import (
	"fmt"
	"runtime"
)

func init() {
	register(&command{name: "version", summary: "print the version and build facts", run: runVersion})
}

func runVersion(args []string) error {
	fs := newFlagSet("version", "", "Print ragtune's version, the Go version and the CPU count.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Printf("ragtune %s (%s, %s/%s, %d CPUs)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	return nil
}
