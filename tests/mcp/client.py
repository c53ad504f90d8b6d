"""Drives gleaner's MCP server with the official MCP Python SDK (PyPI `mcp`).

Used by tests/mcp.rs, which prepares a data directory and checks what this
prints: one JSON object with what each call answered. Run by hand:

    python client.py stdio GLEANER_BINARY DATA_DIR      (token in GLEANER_TOKEN)
    python client.py http http://127.0.0.1:PORT/mcp     (token in GLEANER_TOKEN)
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

QUERY = "disk usage mx04"


def connect(argv, token):
    if argv[1] == "stdio":
        params = StdioServerParameters(
            command=argv[2],
            args=["--data", argv[3], "mcp"],
            env={"GLEANER_TOKEN": token, "GLEANER_LOG": "warn"},
        )
        return Client(params, mode=os.environ.get("GLEANER_MCP_MODE", "auto"))
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return Client(streamable_http_client(argv[2], http_client=http), mode="auto")


def answer(result):
    """What one tool call answered: its JSON, or its error text."""
    text = "".join(getattr(c, "text", "") for c in result.content)
    return {
        "is_error": bool(result.is_error),
        "json": result.structured_content,
        "text": text,
    }


async def main(argv):
    token = os.environ["GLEANER_TOKEN"]
    out = {}
    async with connect(argv, token) as client:
        out["protocol_version"] = client.protocol_version
        out["server"] = client.server_info.name if client.server_info else None
        tools = await client.list_tools()
        out["tools"] = sorted(t.name for t in tools.tools)
        out["schemas_ok"] = all(t.input_schema.get("type") == "object" for t in tools.tools)
        search = answer(await client.call_tool("search", {"query": QUERY, "limit": 5}))
        out["search"] = search
        messages = answer(
            await client.call_tool("search", {"query": QUERY, "results": "messages", "limit": 3, "facets": True})
        )
        out["search_messages"] = messages
        # The thread and a message to cite: the admin-side test passes them in
        # for the reader, who must not find them by searching.
        thread_id = os.environ.get("GLEANER_THREAD") or (
            (search["json"] or {}).get("conversations", [{}]) or [{}]
        )[0].get("thread_id")
        out["thread"] = answer(await client.call_tool("read_thread", {"thread_id": thread_id or "none"}))
        message_id = os.environ.get("GLEANER_MESSAGE") or (
            (messages["json"] or {}).get("hits", [{}]) or [{}]
        )[0].get("message_id")
        message = answer(await client.call_tool("read_message", {"message_id": message_id or "none"}))
        out["message"] = message
        own = ((message["json"] or {}).get("own_words") or {}).get("text", "")
        passage = next((line.strip() for line in own.splitlines() if len(line.strip()) > 20), "")[:80]
        out["passage"] = passage
        draft = answer(
            await client.call_tool(
                "draft_document",
                {"kind": "procedure", "title": "When mx04 fills its disk", "body": "Steps, from the list.\n"},
            )
        )
        out["draft"] = draft
        doc_id = str(((draft["json"] or {}).get("document") or {}).get("id") or os.environ.get("GLEANER_DOC", "1"))
        out["cite"] = answer(
            await client.call_tool(
                "cite", {"document": doc_id, "message_id": message_id or "none", "passage": passage or "x"}
            )
        )
        out["bad_cite"] = answer(
            await client.call_tool(
                "cite",
                {"document": doc_id, "message_id": message_id or "none", "passage": "words nobody wrote on the list"},
            )
        )
        out["read_document"] = answer(await client.call_tool("read_document", {"document": doc_id}))
        resources = await client.list_resource_templates()
        out["resource_templates"] = sorted(t.uri_template for t in resources.resource_templates)
        if message_id:
            try:
                r = await client.read_resource("gleaner://message/" + message_id.replace("%", "%25").replace("/", "%2F"))
                out["resource"] = r.contents[0].text[:200] if r.contents else ""
            except Exception as e:  # noqa: BLE001 - a refusal is an answer here
                out["resource"] = "error: " + str(e)
        prompts = await client.list_prompts()
        out["prompts"] = sorted(p.name for p in prompts.prompts)
        p = await client.get_prompt("summarise_conversation", {"thread_id": thread_id or "x"})
        out["prompt_text"] = p.messages[0].content.text
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv))
