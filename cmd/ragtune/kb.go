package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ragtune/rag"
)

func init() {
	registerSub("kb", "list", "list knowledge bases", runKBList)
	registerSub("kb", "stats", "show documents, chunks and index sizes of a knowledge base", runKBStats)
	registerSub("kb", "delete", "delete a knowledge base", runKBDelete)
}

// defaultKBRoot is where knowledge bases live unless --kb-dir says
// otherwise: $RAGTUNE_HOME/kb, else ~/.ragtune/kb.
func defaultKBRoot() string {
	if h := os.Getenv("RAGTUNE_HOME"); h != "" {
		return filepath.Join(h, "kb")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".ragtune", "kb")
	}
	return filepath.Join(".ragtune", "kb")
}

// kbFlags adds the flags every knowledge-base command shares.
func kbFlags(fs *flag.FlagSet) (name, root *string) {
	name = fs.String("kb", "", "knowledge base `NAME`")
	root = fs.String("kb-dir", defaultKBRoot(), "`DIR` holding knowledge bases")
	return name, root
}

func runKBList(args []string) error {
	fs := newFlagSet("kb list", "[--kb-dir DIR] [--json]", "Lists the knowledge bases under --kb-dir.")
	root := fs.String("kb-dir", defaultKBRoot(), "`DIR` holding knowledge bases")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rows, err := rag.ListKBs(*root, os.Stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		if rows == nil {
			rows = []rag.KBListing{}
		}
		return json.NewEncoder(os.Stdout).Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(os.Stderr, "no knowledge bases in %s (create one with 'ragtune ingest --kb NAME PATH...')\n", *root)
		return nil
	}
	return rag.WriteKBTable(os.Stdout, rows)
}

func runKBStats(args []string) error {
	fs := newFlagSet("kb stats", "--kb NAME [--kb-dir DIR] [--json] [--docs]", "Shows a knowledge base's configuration and sizes.")
	name, root := kbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	listDocs := fs.Bool("docs", false, "also list the ingested files")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" && fs.NArg() == 1 {
		*name = fs.Arg(0)
	}
	dir, err := rag.KBDir(*root, *name)
	if err != nil {
		return err
	}
	s, err := rag.OpenStore(dir, nil, true)
	if err != nil {
		return rag.KBOpenError(err, *name)
	}
	defer s.Close()
	if *asJSON {
		return writeJSON(os.Stdout, s.StatsReport(*name, *listDocs))
	}
	s.WriteStats(os.Stdout, *name, *listDocs)
	return nil
}

func runKBDelete(args []string) error {
	fs := newFlagSet("kb delete", "--kb NAME [--kb-dir DIR]", "Deletes a knowledge base directory and everything in it.")
	name, root := kbFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" && fs.NArg() == 1 {
		*name = fs.Arg(0)
	}
	dir, err := rag.KBDir(*root, *name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := rag.DeleteKB(ctx, dir, *name); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "deleted knowledge base %s (%s)\n", *name, dir)
	return nil
}
