"""The Interaction Agent's view of a research agent's own documents: ranked passages, cited with their page."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mia.agents.chat.tool_registry import Tool, ToolContext, ToolError
from mia.agents.research.documents import library_of
from mia.store import agents as agent_store
from mia.tools.local_files import FileSearch, cite_as


class SearchDocumentsArgs(BaseModel):
    agent: str = Field(description="The research agent whose documents to search (name or id).")
    query: str = Field(min_length=2, description="What to look for, e.g. 'primary endpoint' or 'exclusion criteria'.")


def search_documents(ctx: ToolContext, args: SearchDocumentsArgs) -> str:
    """The best passages of the agent's documents for the query (BM25), each with its file and page."""
    agent = agent_store.get_agent(ctx.registry, args.agent)
    library = library_of(ctx.settings, agent)
    if not library.entries():
        raise ToolError(f"Agent '{agent.slug}' has no documents of the person's.",
                        f"They can add some with `mia agents add-files {agent.slug} PATH...`.")
    ranked = FileSearch(library).index().rank(args.query, k=6)
    if not ranked:
        return f"Nothing in the documents of '{agent.slug}' matches '{args.query}'."
    blocks = [f"[{cite_as(p.doc, p.location)}]\n{p.text}" for p, _score in ranked]
    return f"Passages from the documents of '{agent.slug}' for '{args.query}':\n\n" + "\n\n".join(blocks)


SEARCH_DOCUMENTS = Tool(
    "search_documents", "Search the person's own documents (PDFs, Word, notes they gave a research agent) for "
    "passages; each comes with its file and page, to cite as 'protocol.pdf, p. 12'.", SearchDocumentsArgs,
    search_documents)
