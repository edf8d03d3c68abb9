"""LangChain's OpenAI integration against a real runner on SmolLM2: bound tools come back as tool calls, and
OpenAIEmbeddings gets vectors (token-length checks off: they would fetch tiktoken's tables from the network)."""
import os

os.environ["LANGSMITH_TRACING"] = "false"

from langchain_core.messages import HumanMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_openai import ChatOpenAI, OpenAIEmbeddings  # noqa: E402


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return "sunny, 21 degrees"


def test_bind_tools_and_answer(server):
    llm = ChatOpenAI(base_url=server.base + "/v1", api_key="unused", model="smol", temperature=0, max_tokens=80, max_retries=0)
    ask = HumanMessage("What is the weather in Paris?")
    reply = llm.bind_tools([get_weather], tool_choice="required").invoke([ask])
    assert reply.tool_calls, reply
    call = reply.tool_calls[0]
    assert call["name"] == "get_weather" and isinstance(call["args"]["city"], str)
    final = llm.invoke([ask, reply, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])])
    assert final.content.strip()


def test_embeddings(server):
    embeddings = OpenAIEmbeddings(base_url=server.base + "/v1", api_key="unused", model="smol",
                                  check_embedding_ctx_length=False, max_retries=0)
    vectors = embeddings.embed_documents(["hello world", "a cat on a mat"])
    assert len(vectors) == 2 and len(vectors[0]) == 576
    assert len(embeddings.embed_query("hello")) == 576
