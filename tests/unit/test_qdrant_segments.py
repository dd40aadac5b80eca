"""The Qdrant stand-in's segment store (tests/e2e/standins/qdrant/segments.py), on real files."""

import io
import os
import tarfile

import numpy
import pytest

from tests.e2e.standins.qdrant import segments

DIM = 4
VECTORS = {"size": DIM, "distance": "Cosine"}


@pytest.fixture(autouse=True)
def small_segments(monkeypatch):
    """Segments of 10 points, vacuumed from 5 points on, so the tests stay small; every
    store a test opens is closed after it."""
    monkeypatch.setattr(segments, "SEAL_BYTES", 10 * DIM * 4)
    monkeypatch.setattr(segments, "VACUUM_MIN", 5)
    opened = []
    real = segments.Collection.__init__

    def tracked(self, root):
        real(self, root)
        opened.append(self)

    monkeypatch.setattr(segments.Collection, "__init__", tracked)
    yield
    for store in opened:
        store.close()


def vectors(ids, seed=0):
    rng = numpy.random.default_rng(seed)
    return rng.random((len(ids), DIM), dtype=numpy.float32)


def put(store, ids, seed=0, tag="v1"):
    store.upsert([(i, {"n": i, "tag": tag}) for i in ids], vectors(ids, seed))


def content(store):
    return {p: (payload, vector.tobytes()) for p, payload, vector in store.points()}


def archive_of(store) -> bytes:
    out = io.BytesIO()
    store.snapshot(out)
    return out.getvalue()


def members(store) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive_of(store))) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}


def test_the_appendable_segment_is_sealed_at_the_threshold(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    put(store, range(9))
    assert not store.segments
    put(store, range(9, 12))
    assert sorted(store.segments) == [1]
    assert (tmp_path / "c" / segments.LOG).stat().st_size == 0
    before = content(store)
    store.close()
    assert content(segments.Collection(tmp_path / "c")) == before
    assert len(before) == 12


def test_an_upsert_of_a_sealed_point_sets_its_deletion_bit(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    put(store, range(10))
    put(store, [3], seed=1, tag="v2")
    segment = store.segments[1]
    bits = numpy.unpackbits(numpy.fromfile(segment.path / "deleted.bin", dtype=numpy.uint8))
    assert list(numpy.flatnonzero(bits[:10])) == [3]
    store.close()
    loaded = segments.Collection(tmp_path / "c")
    assert loaded.count() == 10
    assert content(loaded)[3][0] == {"n": 3, "tag": "v2"}


def test_a_delete_leaves_no_copy_behind(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    put(store, range(12))  # 0..9 sealed, 10..11 appendable
    store.delete([2, 11, 99])
    store.close()
    assert sorted(content(segments.Collection(tmp_path / "c"))) == [0, 1, 3, 4, 5, 6, 7, 8, 9, 10]


def test_a_torn_last_record_is_dropped_on_load(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    put(store, [1, 2])
    whole = (tmp_path / "c" / segments.LOG).stat().st_size
    store.close()
    record = segments.encode_record({"op": "delete", "ids": [1]})
    with open(tmp_path / "c" / segments.LOG, "ab") as log:
        log.write(record[:-3])  # a crash mid-append
    loaded = segments.Collection(tmp_path / "c")
    assert sorted(content(loaded)) == [1, 2]
    assert (tmp_path / "c" / segments.LOG).stat().st_size == whole
    put(loaded, [3])  # appends after the cut, not after the torn bytes
    loaded.close()
    assert sorted(content(segments.Collection(tmp_path / "c"))) == [1, 2, 3]


def test_a_corrupt_record_ends_the_replay(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    put(store, [1])
    put(store, [2])
    store.close()
    log = tmp_path / "c" / segments.LOG
    data = bytearray(log.read_bytes())
    data[-2] ^= 0xFF
    log.write_bytes(bytes(data))
    assert sorted(content(segments.Collection(tmp_path / "c"))) == [1]


def test_unchanged_sealed_segments_are_the_same_bytes_in_the_next_snapshot(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    for start in (0, 10, 20):
        put(store, range(start, start + 10))  # three sealed segments
    first, whole = members(store), archive_of(store)
    for path in store.files():
        os.utime(path, (1, 1))
    assert archive_of(store) == whole  # stable headers: no times, owners or order of its own
    put(store, [15], seed=2, tag="v2")  # a point of the second segment
    second = members(store)
    for number in ("000001", "000003"):
        for name in ("vectors.f32", "points.json", "deleted.bin"):
            assert second[f"segments/{number}/{name}"] == first[f"segments/{number}/{name}"]
    assert second["segments/000002/vectors.f32"] == first["segments/000002/vectors.f32"]
    assert second["segments/000002/deleted.bin"] != first["segments/000002/deleted.bin"]
    assert len(second[segments.LOG]) > len(first[segments.LOG])


def test_a_snapshot_recovers_every_point(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    put(store, range(25))
    put(store, [4, 21], seed=3, tag="v2")
    store.delete([7])
    out = io.BytesIO()
    store.snapshot(out)
    recovered = segments.unpack(out.getvalue(), tmp_path / "r")
    assert content(recovered) == content(store)
    assert recovered.config == store.config


def test_a_mostly_deleted_segment_is_vacuumed(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    put(store, range(10))
    store.delete([0, 1])
    assert sorted(store.segments) == [2]
    assert not (tmp_path / "c" / "segments" / "000001").exists()
    store.close()
    assert sorted(content(segments.Collection(tmp_path / "c"))) == list(range(2, 10))


def test_a_segment_with_nothing_left_is_removed(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    put(store, range(10))
    store.delete(list(range(10)))
    assert not store.segments
    assert not list((tmp_path / "c" / "segments").iterdir())
    store.close()
    assert segments.Collection(tmp_path / "c").count() == 0


def test_a_vacuum_cut_short_keeps_one_copy(tmp_path):
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    put(store, range(10))
    copy = tmp_path / "c" / "segments" / "000001"
    saved = {f.name: f.read_bytes() for f in copy.iterdir()}
    store.delete([0, 1])  # vacuumed into 000002, 000001 removed
    store.close()
    copy.mkdir()
    for name, data in saved.items():  # as if the crash came before the removal
        (copy / name).write_bytes(data)
    loaded = segments.Collection(tmp_path / "c")
    assert loaded.count() == 8  # the log's delete still applies to the old copy
    assert sorted(p for p, _payload, _vector in loaded.points()) == list(range(2, 10))


@pytest.mark.parametrize("name", ["../escape", "/abs", "segments/1/other.bin", "extra.txt"])
def test_a_snapshot_with_foreign_members_is_refused(tmp_path, name):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo(name)
        archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(ValueError, match="unexpected snapshot member"):
        segments.unpack(out.getvalue(), tmp_path / "r")


def test_a_snapshot_puts_what_writes_change_together(tmp_path):
    """The config and the bitmaps first, the log last: a write changes two regions only."""
    store = segments.Collection.create(tmp_path / "c", VECTORS)
    for start in (0, 10):
        put(store, range(start, start + 10))
    with tarfile.open(fileobj=io.BytesIO(archive_of(store))) as archive:
        names = archive.getnames()
    assert names == [
        "config.json",
        "segments/000001/deleted.bin",
        "segments/000002/deleted.bin",
        "segments/000001/points.json",
        "segments/000001/vectors.f32",
        "segments/000002/points.json",
        "segments/000002/vectors.f32",
        segments.LOG,
    ]
