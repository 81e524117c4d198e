package rag

import (
	"os"

	"ragtune/internal/cli"
)

// StoreChoice is what a command was asked about where a new knowledge
// base keeps its chunks (ingest's --store, --weaviate-url,
// --weaviate-api-key, --weaviate-class and --replication), before it is
// checked and turned into a RemoteConfig.
type StoreChoice struct {
	Kind, URL, Key, Class string
	Replication           int
	// Given reports whether a flag was given on the command line: the
	// Weaviate flags without --store weaviate are refused, though the URL
	// may come from the environment.
	Given func(flag string) bool
}

// Config checks the choice and returns the store it states (nil: none
// stated). The API key goes into the environment (WeaviateAPIKeyEnv),
// where the knowledge base's Weaviate client reads it, so it is never
// written to disk.
func (c StoreChoice) Config() (*RemoteConfig, error) {
	if c.Key != "" {
		if err := os.Setenv(WeaviateAPIKeyEnv, c.Key); err != nil {
			return nil, err
		}
	}
	weaviateFlags := c.Given != nil && (c.Given("weaviate-url") || c.Given("weaviate-class") || c.Given("replication"))
	switch c.Kind {
	case "":
		if weaviateFlags {
			return nil, cli.Usagef("--weaviate-url, --weaviate-class and --replication need --store weaviate")
		}
		return nil, nil
	case StoreEmbedded:
		if weaviateFlags {
			return nil, cli.Usagef("--weaviate-url, --weaviate-class and --replication need --store weaviate, not --store embedded")
		}
		return &RemoteConfig{Kind: StoreEmbedded}, nil
	case StoreWeaviate:
	default:
		return nil, cli.Usagef("--store must be embedded or weaviate, got %q", c.Kind)
	}
	if c.URL == "" {
		return nil, cli.Usagef("--store weaviate needs --weaviate-url http://HOST:PORT (or $RAGTUNE_WEAVIATE_URL)")
	}
	if c.Replication < 0 {
		return nil, cli.Usagef("--replication must be >= 1, not %d", c.Replication)
	}
	return &RemoteConfig{Kind: StoreWeaviate, URL: c.URL, Class: c.Class, Replication: c.Replication}, nil
}
