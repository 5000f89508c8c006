"""In-process fan-out of committed events to live subscribers (WebSocket connections), each with its
own scope filter. Slow subscribers are cut off rather than allowed to hold everyone up."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

QUEUE_SIZE = 1000


@dataclass(eq=False)
class Subscriber:
    accepts: Callable[[dict], bool]
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.last_id = 0

    def subscribe(self, accepts: Callable[[dict], bool]) -> Subscriber:
        sub = Subscriber(accepts)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, event: dict) -> int:
        """Hand the event to every subscriber whose scope covers it; return how many got it."""
        self.last_id = max(self.last_id, event["id"])
        sent = 0
        for sub in list(self.subscribers):
            if sub.overflowed or not sub.accepts(event):
                continue
            try:
                sub.queue.put_nowait(event)
                sent += 1
            except asyncio.QueueFull:
                sub.overflowed = True  # the connection closes; the client reconnects with `since`
                sub.queue = asyncio.Queue(1)
                sub.queue.put_nowait(None)
        return sent
