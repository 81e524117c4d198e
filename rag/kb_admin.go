package rag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"ragtune/internal/cli"
)

// kbNameRe is the knowledge-base name rule: letters, digits, '.', '_'
// and '-', starting with a letter or digit, so a name is never a path.
var kbNameRe = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}._-]*$`)

// ValidKBName reports whether name follows the knowledge-base name rule
// (letters, digits, '.', '_' and '-', starting with a letter or digit);
// the HTTP server adds a length limit of its own.
func ValidKBName(name string) bool { return kbNameRe.MatchString(name) }

// KBDir is the directory of the knowledge base name under root; a missing
// or invalid name is a usage error (the commands' --kb NAME).
func KBDir(root, name string) (string, error) {
	if name == "" {
		return "", cli.Usagef("--kb NAME is required")
	}
	if !ValidKBName(name) {
		return "", cli.Usagef("knowledge base name %q: use letters, digits, '.', '_' and '-' (no slashes)", name)
	}
	return filepath.Join(root, name), nil
}

// KBOpenError turns a missing knowledge base (ErrNoKB) into advice on
// finding or creating one; other errors pass through.
func KBOpenError(err error, name string) error {
	if errors.Is(err, ErrNoKB) {
		return fmt.Errorf("knowledge base %q not found (see 'ragtune kb list'; create it with 'ragtune ingest --kb %s PATH...')", name, name)
	}
	return err
}

// RemoteStats describes the Weaviate collection of a knowledge base
// stored there (nil for an embedded one), as 'kb stats --json' shows it:
// url, class, replication, consistency, and the object count the server
// reports (objects), or why it could not be had (error).
func (s *Store) RemoteStats() map[string]any {
	rc := s.cfg.Store
	if rc == nil {
		return nil
	}
	out := map[string]any{"url": rc.URL, "class": rc.Class, "replication": max(rc.Replication, 1), "consistency": rc.Consistency}
	if rc.Consistency == "" {
		out["consistency"] = DefaultConsistency
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, _, err := s.RemoteCount(ctx); err != nil {
		out["error"] = err.Error()
	} else {
		out["objects"] = n
	}
	return out
}

// DeleteKB deletes the knowledge base name in dir: its Weaviate
// collection first (were that to fail, the knowledge base stays, and
// deleting it again retries), then the directory. It takes the writer
// lock, so an ingest in progress is not deleted under it.
func DeleteKB(ctx context.Context, dir, name string) error {
	if _, err := ReadStoreConfig(dir); err != nil {
		return KBOpenError(err, name)
	}
	s, err := OpenStore(dir, nil, false)
	if err != nil {
		return err
	}
	if err := s.DropRemote(ctx); err != nil {
		s.Close()
		return fmt.Errorf("delete knowledge base %s: %w (nothing was deleted; try again when Weaviate answers)", name, err)
	}
	s.Close()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete knowledge base %s: %w", name, err)
	}
	return nil
}

// RemoveEmpty closes s, a knowledge base an ingest has just created and
// left empty, and removes it (its Weaviate collection and its directory),
// so a failed first ingest leaves nothing behind. A collection that
// cannot be dropped is reported on warn, not an error: the directory
// still goes.
func (s *Store) RemoveEmpty(warn io.Writer) error {
	if err := s.DropRemote(context.Background()); err != nil {
		fmt.Fprintf(warn, "ragtune: %v (delete the collection yourself)\n", err)
	}
	if err := s.Close(); err != nil {
		return err
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("remove the empty knowledge base %s: %w", s.dir, err)
	}
	return nil
}

// FailureList names failed ingest inputs, up to five, with their reasons,
// for one line of an error message.
func FailureList(ps []IngestEvent) string {
	var parts []string
	for _, p := range ps {
		if len(parts) == 5 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%v)", p.Path, p.Err))
	}
	return strings.Join(parts, "; ")
}

// QueryReranker is the reranker a search of s uses: c when the command
// chose one, else the one s records (see RecordedRerankScorer; warn hears
// of a broken record) unless none (--no-rerank); nil for no reranking.
func QueryReranker(s *Store, c *RerankConfig, none bool, warn io.Writer) Reranker {
	if c != nil {
		return StoreReranker(s, c.Scorer(), c.Depth)
	}
	if score, depth := RecordedRerankScorer(s, warn); score != nil && !none {
		return StoreReranker(s, score, depth)
	}
	return nil
}
