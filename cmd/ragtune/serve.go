package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"ragtune/guard"
	"ragtune/internal/cli"
	"ragtune/llm"
	"ragtune/server"
	"ragtune/tensor"
	"ragtune/train"
)

func init() {
	register(&command{name: "serve", summary: "serve an OpenAI-compatible API, knowledge bases and a web page over HTTP", run: runServe})
}

const serveDescription = `
Serves a model over HTTP: the OpenAI-compatible API (/v1/chat/completions
with streaming and reasoning_content, /v1/completions, /v1/embeddings,
/v1/rerank with --rerank-path, /v1/models), the knowledge-base API (/v1/kb:
create, upload, list, delete, query; chat with "kb": NAME or model
"rag:NAME" answers with citations, reranked by the reranker the knowledge
base records unless the request sends "rerank": false / "kb_rerank":
false), a web page at /, /healthz and Prometheus /metrics.

It listens on loopback by default. Binding any other address requires API
keys (--api-keys FILE, or RAGTUNE_API_KEYS=k1,k2); clients send
'Authorization: Bearer KEY'. Keys are at least 16 characters. Each line of
the keys file is a plain KEY (full access, as before scopes existed) or
NAME KEY SCOPE, where SCOPE is read (chat, completions, embeddings, read
and query knowledge bases), write (also create knowledge bases, upload and
delete in its own) or admin (everything, every knowledge base, /metrics);
KEY may be sha256:HEX. A knowledge base belongs to the key that created it
and other keys cannot see it unless its owner shares it (PATCH /v1/kb/NAME
{"shared": true}); admin keys see all. Failed authentication is throttled
per client address (429 with Retry-After).

Browsers: requests must name this server in Host (loopback, the --addr
host, or --allowed-host), and changes must come from its own page (Origin)
or --allowed-origin; JSON routes take only application/json, and uploads
from scripts need an Authorization header (any value without keys).
An upload is refused with 413 when extracting it would produce more than
--max-extract bytes (a decompression bomb); the work stops when the client
goes away. Personal data is masked in every field that leaves the server
(names, titles, headings, citations); see docs/SECURITY.md.

Requests beyond --parallel running and --max-queue waiting get 429.
SIGINT/SIGTERM stop accepting connections and let requests in flight
finish (up to --grace).

Examples:
  ragtune serve --model ./r1-1.5b --kb docs
  ragtune serve --backend http://127.0.0.1:8000 --backend-model deepseek-r1 --addr 0.0.0.0:8080 --api-keys keys.txt
  curl -N localhost:8080/v1/chat/completions -H 'Content-Type: application/json' -d '{"messages":[{"role":"user","content":"你好"}],"stream":true}'`

func runServe(args []string) error {
	fs := newFlagSet("serve", "--model DIR|FILE.gguf | --backend URL [flags]", serveDescription)
	modelPath := fs.String("model", "", "model: HF `DIR` or GGUF file")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter `DIR` merged into --model at startup")
	backend := fs.String("backend", "", "generate with a remote OpenAI-compatible server at `URL` instead of --model")
	backendModel := fs.String("backend-model", "", "model `name` sent to --backend")
	backendKey := fs.String("backend-key", os.Getenv("RAGTUNE_BACKEND_API_KEY"), "API `key` for --backend (default $RAGTUNE_BACKEND_API_KEY)")
	name := fs.String("model-name", "", "model `NAME` clients use (default: the model directory's name)")
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`")
	keysFile := fs.String("api-keys", "", "`file` of API keys: KEY or NAME KEY read|write|admin per line (also $RAGTUNE_API_KEYS, comma-separated plain keys)")
	ctxSize := fs.Int("ctx", 0, "context size in tokens `N` per sequence (default min(model maximum, 4096)); KV cache per token: 2 × layers × KV heads × head dim values (1.5B model: 56 KiB at f32, 28 KiB at f16, 15.75 KiB at q8_0; allocated as the sequence grows)")
	kvType := fs.String("kv-type", llm.DefaultKVType.String(), "KV cache element `TYPE`: "+tensor.KVTypes+" (f16 halves the cache; f32 does not round it)")
	parallel := fs.Int("parallel", 0, "generations running at once `N`, each with its own KV cache, all sharing one forward pass per decode step (default with --model: 4 per CPU core, 2 to 16, fewer where that many KV caches of --ctx tokens would not fit in half the memory the weights leave free; with --backend: 2)")
	maxQueue := fs.Int("max-queue", 16, "generations that may wait `N`; more get 429")
	timeout := fs.Duration("timeout", 10*time.Minute, "longest one generation may take")
	maxTokens := fs.Int("max-tokens", 2048, "default cap on generated tokens per request `N` (0: until the context is full)")
	grace := fs.Duration("grace", 2*time.Minute, "on SIGINT/SIGTERM, how long requests in flight may take to finish")
	var kbs stringList
	fs.Var(&kbs, "kb", "knowledge base `NAME` to open at startup (repeatable; others open on first use)")
	kbRoot := fs.String("kb-dir", defaultKBRoot(), "`DIR` holding knowledge bases")
	embedURL := fs.String("embed-url", "", "OpenAI-compatible embeddings server `URL` for /v1/embeddings and new knowledge bases")
	rerankPath := fs.String("rerank-path", "", "serve /v1/rerank with a local cross-encoder: HF `DIR` of a bge-reranker style model or a Qwen3-Reranker (loaded on first use)")
	embedModel := fs.String("embed-model", "", "embedding model: a `name` sent to --embed-url, or without --embed-url a local BERT/bge model (HF DIR or GGUF) for /v1/embeddings")
	policyFile := fs.String("policy", "", "guard policy JSON `file` (default: the built-in policy)")
	noGuard := fs.Bool("no-guard", false, "turn off input/output/retrieved-text screening")
	rate := fs.Float64("rate-limit", 0, "requests per second `R` per API key (or client address); 0: unlimited")
	burst := fs.Int("burst", 0, "rate-limit burst `N` (default 2×R)")
	maxBody := fs.Int64("max-body", 1<<20, "largest JSON request body in `bytes`")
	maxUpload := fs.Int64("max-upload", 16<<20, "largest document upload in `bytes`")
	maxExtract := fs.Int64("max-extract", 0, "most `bytes` extracting one upload may inflate to (all its zip entries and PDF streams, and its text; default 8×--max-upload)")
	var allowedHosts, allowedOrigins stringList
	fs.Var(&allowedHosts, "allowed-host", "another Host `name` clients may use, e.g. a reverse proxy's (repeatable)")
	fs.Var(&allowedOrigins, "allowed-origin", "another browser `origin` (https://app.example) allowed to send changes (repeatable)")
	reports := fs.String("reports", "", "`DIR` of eval reports served under /reports/ and linked from the page")
	jsonLogs := fs.Bool("log-json", false, "log JSON lines instead of text")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*modelPath == "") == (*backend == "") {
		return usageErrorf("give exactly one of --model (a local model) and --backend (a remote server URL)")
	}
	if *adapter != "" && *modelPath == "" {
		return usageErrorf("--adapter needs --model")
	}
	if *maxExtract < 0 || *maxUpload <= 0 {
		return usageErrorf("--max-upload must be > 0 and --max-extract >= 0")
	}
	if *parallel < 0 || *maxQueue < 0 || *ctxSize < 0 || *maxTokens < 0 {
		return usageErrorf("--parallel, --max-queue, --ctx and --max-tokens must be >= 0")
	}
	if *parallel == 0 {
		*parallel = 2
		if *modelPath != "" {
			*parallel = llm.DefaultParallel(*modelPath, *ctxSize, *kvType)
		}
	}
	if _, err := tensor.ParseKVType(*kvType); err != nil {
		return usageErrorf("--kv-type: %v", err)
	}
	if err := server.CheckListenAddr(*addr); err != nil {
		return usageErrorf("--addr %v", err)
	}
	var c cli.Checks
	c.NonNegative("--rate-limit", *rate)
	c.MinInt("--burst", *burst, 0)
	c.Check(*timeout > 0 && *grace >= 0, "--timeout must be > 0 and --grace >= 0")
	if err := c.Err(); err != nil {
		return err
	}
	if *modelPath != "" {
		if err := cli.ModelPath(*modelPath); err != nil {
			return err
		}
	}
	keys, err := server.LoadKeys(*keysFile, os.Getenv("RAGTUNE_API_KEYS"))
	if err != nil {
		return err
	}
	if !server.IsLoopback(*addr) && keys.Len() == 0 {
		return usageErrorf("%s is reachable from other machines: give API keys (--api-keys FILE or RAGTUNE_API_KEYS) or bind 127.0.0.1", *addr)
	}
	var handler slog.Handler = slog.NewTextHandler(os.Stderr, nil)
	if *jsonLogs {
		handler = slog.NewJSONHandler(os.Stderr, nil)
	}
	log := slog.New(handler)

	// Bind before the model loads: a busy port fails in a second, not
	// after minutes of loading.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? choose another --addr)", *addr, err)
	}
	defer ln.Close()

	var policy *guard.Policy
	if *policyFile != "" {
		if policy, err = guard.LoadPolicy(*policyFile); err != nil {
			return err
		}
	}

	cfg := server.Config{Keys: keys, KBDir: *kbRoot, Policy: policy, NoGuard: *noGuard,
		RateLimit: *rate, Burst: *burst, Parallel: *parallel, MaxQueue: *maxQueue, Timeout: *timeout,
		DefaultMaxTokens: *maxTokens, MaxBodyBytes: *maxBody, MaxUploadBytes: *maxUpload,
		MaxExtractBytes: *maxExtract, ListenAddr: *addr, AllowedHosts: allowedHosts, AllowedOrigins: allowedOrigins, ReportsDir: *reports, Logger: log}
	if err := cfg.UseEmbeddings(*embedURL, *embedModel); err != nil {
		return usageErrorf("--embed-model %s: %v (give a local BERT/bge model, or --embed-url for a server)", *embedModel, err)
	}
	if err := cfg.UseReranker(*rerankPath); err != nil {
		return usageErrorf("--rerank-path %s: %v (give the HF directory of a cross-encoder)", *rerankPath, err)
	}

	closeEngine := func() error { return nil }
	if *backend != "" {
		r, err := llm.NewRemote(llm.RemoteOptions{BaseURL: *backend, Model: *backendModel, APIKey: *backendKey})
		if err != nil {
			return usageErrorf("%v", err)
		}
		cfg.Engine, cfg.DefaultSampling, cfg.ModelName = r, r.DefaultSampling(), *backendModel
	} else {
		if *adapter != "" {
			log.Info("merging adapter", "model", *modelPath, "adapter", *adapter)
		}
		t0 := time.Now()
		eng, err := train.LoadLocal(*modelPath, *adapter, llm.LoadOptions{LocalOptions: llm.LocalOptions{ContextSize: *ctxSize, Parallel: *parallel}, KVType: *kvType})
		if err != nil {
			return err
		}
		log.Info("model loaded", "model", *modelPath, "context", eng.ContextSize(), "parallel", *parallel, "seconds", time.Since(t0).Seconds())
		cfg.Engine, cfg.DefaultSampling, cfg.ModelName = eng, eng.DefaultSampling(), server.ModelID(*modelPath)
		closeEngine = eng.Close
	}
	defer closeEngine()
	if *name != "" {
		cfg.ModelName = *name
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	for _, kb := range kbs {
		if err := srv.OpenKB(kb); err != nil {
			return fmt.Errorf("knowledge base %s: %w (create it with 'ragtune ingest --kb %s PATH')", kb, err, kb)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills the process the default way
	if err := srv.Serve(ctx, ln, *grace); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
