package chat

// R1Template is ragtune's chat template for DeepSeek-R1-Distill models,
// written for ragtune. It produces the published R1 format: BOS, the last
// system message, "<｜User｜>" turns, "<｜Assistant｜>" turns closed by
// "<｜end▁of▁sentence｜>" with the reasoning (everything up to the last
// </think>) dropped from history, tool outputs in R1's tool markers, and
// the generation prompt "<｜Assistant｜><think>\n" that opens reasoning.
// Assistant tool calls are not rendered (ragtune's Message has none).
const R1Template = `{#- ragtune: DeepSeek-R1 conversation format -#}
{%- set st = namespace(system='', tools_open=false, outputs_started=false) -%}
{%- for m in messages -%}
	{%- if m.role == 'system' -%}{%- set st.system = m.content -%}{%- endif -%}
{%- endfor -%}
{{- bos_token ~ st.system -}}
{%- for m in messages -%}
	{%- if m.role == 'user' -%}
		{%- set st.tools_open = false -%}
		{{- '<｜User｜>' ~ m.content -}}
	{%- elif m.role == 'assistant' and st.tools_open -%}
		{#- an answer right after tool outputs closes them and keeps its text whole -#}
		{{- '<｜tool▁outputs▁end｜>' ~ m.content ~ '<｜end▁of▁sentence｜>' -}}
		{%- set st.tools_open = false -%}
	{%- elif m.role == 'assistant' -%}
		{#- history keeps only the answer after the last </think> -#}
		{{- '<｜Assistant｜>' ~ (m.content.split('</think>') | last) ~ '<｜end▁of▁sentence｜>' -}}
	{%- elif m.role == 'tool' -%}
		{%- if st.outputs_started -%}
			{{- '\n' -}}
		{%- else -%}
			{{- '<｜tool▁outputs▁begin｜>' -}}
			{%- set st.outputs_started = true -%}
		{%- endif -%}
		{{- '<｜tool▁output▁begin｜>' ~ m.content ~ '<｜tool▁output▁end｜>' -}}
		{%- set st.tools_open = true -%}
	{%- endif -%}
{%- endfor -%}
{%- if st.tools_open -%}
	{{- '<｜tool▁outputs▁end｜>' -}}
{%- elif add_generation_prompt -%}
	{{- '<｜Assistant｜><think>\n' -}}
{%- endif -%}
`

// QwenTemplate is ragtune's chat template for Qwen2.5 instruct models,
// written for ragtune: ChatML turns "<|im_start|>role\n…<|im_end|>\n", a
// default system prompt when the conversation has none, consecutive tool
// results grouped in one user turn as <tool_response> blocks, and
// "<|im_start|>assistant\n" as the generation prompt. Tool definitions
// (the "tools" variable of RenderWith) go into the system turn as
// Qwen2.5 expects; assistant tool calls are not rendered (ragtune's
// Message has none).
const QwenTemplate = `{#- ragtune: Qwen2.5 ChatML format -#}
{%- set first_system = messages | length > 0 and messages[0].role == 'system' -%}
{%- if tools -%}
	{{- '<|im_start|>system\n' -}}
	{%- if first_system -%}
		{{- messages[0].content -}}
	{%- else -%}
		{{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' -}}
	{%- endif -%}
	{{- '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' -}}
	{{- 'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' -}}
	{%- for t in tools -%}
		{{- '\n' ~ (t | tojson) -}}
	{%- endfor -%}
	{{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' -}}
	{{- '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' -}}
{%- elif first_system -%}
	{{- '<|im_start|>system\n' ~ messages[0].content ~ '<|im_end|>\n' -}}
{%- else -%}
	{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' -}}
{%- endif -%}
{%- for m in messages -%}
	{%- if m.role == 'tool' -%}
		{%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}
		{{- '\n<tool_response>\n' ~ m.content ~ '\n</tool_response>' -}}
		{%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}{{- '<|im_end|>\n' -}}{%- endif -%}
	{%- elif m.role in ['user', 'assistant'] or (m.role == 'system' and not loop.first) -%}
		{{- '<|im_start|>' ~ m.role ~ '\n' ~ m.content ~ '<|im_end|>\n' -}}
	{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
	{{- '<|im_start|>assistant\n' -}}
{%- endif -%}
`

// Qwen3Template is ragtune's chat template for Qwen3 models (and
// DeepSeek-R1-0528-Qwen3), written for ragtune: ChatML turns as in
// QwenTemplate but no default system prompt; an assistant turn in history
// keeps only its answer (the text after </think>), except turns after the
// last user message (a tool-calling step in progress), which keep their
// reasoning as "<think>\n…\n</think>\n\n"; the generation prompt is
// "<|im_start|>assistant\n", and with enable_thinking=false it also
// closes an empty reasoning block, which is how Qwen3 is told not to think.
const Qwen3Template = `{#- ragtune: Qwen3 ChatML format with reasoning -#}
{%- set first_system = messages | length > 0 and messages[0].role == 'system' -%}
{%- if tools -%}
	{{- '<|im_start|>system\n' -}}
	{%- if first_system -%}{{- messages[0].content ~ '\n\n' -}}{%- endif -%}
	{{- '# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' -}}
	{{- 'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' -}}
	{%- for t in tools -%}
		{{- '\n' ~ (t | tojson) -}}
	{%- endfor -%}
	{{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' -}}
	{{- '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' -}}
{%- elif first_system -%}
	{{- '<|im_start|>system\n' ~ messages[0].content ~ '<|im_end|>\n' -}}
{%- endif -%}
{%- set st = namespace(last_user=-1) -%}
{%- for m in messages -%}
	{%- if m.role == 'user' and not (m.content.startswith('<tool_response>') and m.content.endswith('</tool_response>')) -%}
		{%- set st.last_user = loop.index0 -%}
	{%- endif -%}
{%- endfor -%}
{%- for m in messages -%}
	{%- if m.role == 'user' or (m.role == 'system' and not loop.first) -%}
		{{- '<|im_start|>' ~ m.role ~ '\n' ~ m.content ~ '<|im_end|>\n' -}}
	{%- elif m.role == 'assistant' -%}
		{%- set answer = m.content -%}
		{%- set reasoning = '' -%}
		{%- if '</think>' in m.content -%}
			{%- set answer = m.content.split('</think>')[-1].lstrip('\n') -%}
			{%- set reasoning = m.content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') -%}
		{%- endif -%}
		{%- if loop.index0 > st.last_user and (loop.last or reasoning) -%}
			{{- '<|im_start|>assistant\n<think>\n' ~ reasoning.strip('\n') ~ '\n</think>\n\n' ~ answer.lstrip('\n') -}}
		{%- else -%}
			{{- '<|im_start|>assistant\n' ~ answer -}}
		{%- endif -%}
		{{- '<|im_end|>\n' -}}
	{%- elif m.role == 'tool' -%}
		{%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}
		{{- '\n<tool_response>\n' ~ m.content ~ '\n</tool_response>' -}}
		{%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}{{- '<|im_end|>\n' -}}{%- endif -%}
	{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
	{{- '<|im_start|>assistant\n' -}}
	{%- if enable_thinking is defined and enable_thinking is false -%}
		{{- '<think>\n\n</think>\n\n' -}}
	{%- endif -%}
{%- endif -%}
`
