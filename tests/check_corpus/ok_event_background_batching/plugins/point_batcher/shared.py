"""State shared by the event half and the background half of the batcher."""
import asyncio

QUEUE: "asyncio.Queue[dict]" = asyncio.Queue(maxsize=10_000)
FLUSHED = {"batches": 0, "points": 0, "dropped": 0}
