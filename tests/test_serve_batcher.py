"""The serving batcher's choice of texts, in process: full forward passes first, partial ones left
to gather under load, everything at once when nothing is full, and no text held past max_hold.
Over real HTTP (answers byte-identical to answers alone, 503, shutdown) in test_serve_batching."""

import asyncio
import threading

from reprostack.serving.batcher import Batcher, _Item, select

R = 4  # rows per pass in these tests


def items(keys: list, since: float = 0.0) -> list[_Item]:
    return [_Item(job=None, index=i, key=key, since=since) for i, key in enumerate(keys)]


def test_full_passes_run_first_and_partial_ones_gather():
    queued = items([(8, R), (16, R), (8, R), (8, R), (16, R), (8, R), (8, R), (24, R)])
    chosen = select(queued, max_batch=64, now=0.1, max_hold_s=1.0)
    assert [i.index for i in chosen] == [0, 2, 3, 5]  # the one full pass (width 8), in arrival order
    assert [i.index for i in select(queued, max_batch=3, now=0.1, max_hold_s=1.0)] == [0, 1, 2]  # room < R


def test_nothing_full_runs_everything_queued_up_to_max_batch():
    queued = items([(8, R), (16, R), (8, R), (24, R), (32, R)])
    assert [i.index for i in select(queued, max_batch=64, now=0.1, max_hold_s=1.0)] == [0, 1, 2, 3, 4]
    assert [i.index for i in select(queued, max_batch=2, now=0.1, max_hold_s=1.0)] == [0, 1]


def test_a_text_held_too_long_runs_next_with_its_pass_then_full_passes_fill_the_room():
    queued = items([(24, R)]) + [_Item(None, i, (8, R), 0.3) for i in range(1, 9)]
    assert [i.index for i in select(queued, max_batch=64, now=0.4, max_hold_s=0.5)] == list(range(1, 9))
    late = select(queued, max_batch=64, now=0.6, max_hold_s=0.5)  # text 0 has waited 0.6 s: it goes too
    assert [i.index for i in late] == list(range(9))
    assert [i.index for i in select(queued, max_batch=5, now=0.6, max_hold_s=0.5)] == [0, 1, 2, 3, 4]


def test_texts_without_shapes_run_in_arrival_order():
    queued = items([None] * 10)
    assert [i.index for i in select(queued, max_batch=4, now=0.0, max_hold_s=1.0)] == [0, 1, 2, 3]


def test_under_load_the_worker_gathers_full_passes_and_every_request_gets_its_own_answers():
    gate, batches = threading.Event(), []

    def run(texts):
        if not batches:
            gate.wait(10)  # the first batch holds the worker while the rest queue up
        batches.append(list(texts))
        return [t.upper() for t in texts]

    def shape(texts):
        return [(len(t.split()[0]), R) for t in texts]  # the first word's length stands for the width

    async def main():
        batcher = Batcher(run, max_batch=64, max_wait_s=0, queue_size=100, shape=shape, max_hold_s=5)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(["x first"]))
        await asyncio.sleep(0.05)
        # 9 requests: 8 texts of width 2 (two full passes), 3 of width 3 (partial), one request of both
        requests = [[f"aa {i}"] for i in range(7)] + [["bbb 0"], ["bbb 1"], ["aa 7", "bbb 2"]]
        pending = [asyncio.ensure_future(batcher.submit(texts)) for texts in requests]
        await asyncio.sleep(0.05)
        gate.set()
        answers = await asyncio.gather(first, *pending)
        await batcher.close()
        return requests, answers

    requests, answers = asyncio.run(main())
    assert answers[1:] == [[t.upper() for t in texts] for texts in requests]  # split requests reassembled
    assert [sorted(b) for b in batches[1:]] == [sorted(f"aa {i}" for i in range(8)), ["bbb 0", "bbb 1", "bbb 2"]]


def test_a_text_alone_runs_at_once():
    batches = []

    async def main():
        batcher = Batcher(
            lambda t: batches.append(t) or t, 64, 0.002, 100, shape=lambda t: [(8, 16)] * len(t), max_hold_s=30
        )
        batcher.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await batcher.submit(["alone"]) == ["alone"]
        took = loop.time() - started
        await batcher.close()
        return took

    assert asyncio.run(main()) < 10 and batches == [["alone"]]  # a partial pass, not held 30 s for company


def test_a_shape_that_fails_only_loses_the_ordering():
    def shape(texts):
        raise RuntimeError("tokenizer trouble")

    async def main():
        batcher = Batcher(lambda t: [x.upper() for x in t], 64, 0, 100, shape=shape)
        batcher.start()
        answer = await batcher.submit(["a", "b"])
        await batcher.close()
        return answer

    assert asyncio.run(main()) == ["A", "B"]
