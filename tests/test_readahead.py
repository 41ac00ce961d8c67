"""The readahead: order, errors where they belong, the next item prepared while the caller works."""

import threading

import pytest

from raretune._readahead import readahead


def test_items_come_prepared_and_in_order():
    assert list(readahead(range(50), lambda k: (k, k * k))) == [(k, k * k) for k in range(50)]
    assert list(readahead([])) == []


def test_the_next_item_is_prepared_while_the_caller_works_on_this_one():
    started = {k: threading.Event() for k in range(3)}

    def prepare(k):
        started[k].set()
        return k

    for k in readahead(range(3), prepare):
        if k < 2:  # done in turn, item k + 1 would only be prepared after this wait: it would time out
            assert started[k + 1].wait(timeout=10)


def test_an_error_reaches_the_caller_at_its_item():
    def items():
        yield 1
        yield 2
        raise ValueError("bad shard")

    seen = []
    with pytest.raises(ValueError, match="bad shard"):
        for k in readahead(items()):
            seen.append(k)
    assert seen == [1, 2]


def test_stopping_early_reads_at_most_one_item_more():
    read = []

    def items():
        for k in range(100):
            read.append(k)
            yield k

    for k in readahead(items()):
        if k == 3:
            break
    assert read[-1] <= 4
