#!/usr/bin/env python3
"""An offline stand-in for an LLM agent; run by `3ox agent run llm-demo` once per task.

It serves LLM_CHAT_COMPLETE with Conductor's input fields (`messages: [{role, message}]`,
`instructions`, `maxTokens`, ...) but calls no model: the answer is the first sentence of the
last user message (at most `maxTokens` words, 60 by default), prefixed with `[llm-demo]`.
So the LLM templates (research_fanout, llm_document_pipeline) run end to end without a
server; for real answers use an agent that calls a model.

Output, like Conductor's: {result, finishReason: STOP, promptTokens, completionTokens, tokenUsed}
(token counts are word counts).
"""

import json
import re
import sys


def main():
    try:
        data = json.load(sys.stdin)
    except ValueError as e:
        print(f"the task input is not JSON: {e}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("the task input must be an object", file=sys.stderr)
        return 2
    messages = data.get("messages") or []
    if not isinstance(messages, list):
        messages = []
    texts = [str(m.get("message", m.get("content", ""))) for m in messages if isinstance(m, dict) and m.get("role", "user") == "user"]
    prompt = texts[-1] if texts else str(data.get("prompt") or "")
    if not prompt.strip():
        print("no user message to answer (give `messages: [{role: user, message: ...}]`)", file=sys.stderr)
        return 2
    limit = data.get("maxTokens")
    limit = limit if isinstance(limit, int) and limit > 0 else 60
    body = " ".join(line for line in prompt.split("\n") if line.strip() and not line.startswith("#"))
    first = re.split(r"(?<=[.!?])\s", body.strip(), maxsplit=1)[0]
    words = first.split()[:limit]
    answer = "[llm-demo] " + " ".join(words)
    prompt_tokens = sum(len(t.split()) for t in texts) + len(str(data.get("instructions") or "").split())
    json.dump({
        "result": answer,
        "finishReason": "STOP",
        "promptTokens": prompt_tokens,
        "completionTokens": len(words) + 1,
        "tokenUsed": prompt_tokens + len(words) + 1,
    }, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
