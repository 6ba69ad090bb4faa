"""The C2DSR-family layout (`c2dsr:DIR`): item id ranges give the domain, every line of the three
data files is read as interactions (an interaction in two files counts once), our split follows;
bad folders and cells are one DataError line naming file, line and field."""

import numpy as np
import pytest

from recguru_core.common.errors import DataError
from recguru_core.data.readers import read_c2dsr
from recguru_core.data.sources import load_source

# 6 items in A (ids 0..5), 4 in B (ids 6..9)
A_ITEMS = [f"F{i}\t{i}" for i in range(6)]
B_ITEMS = [f"K{i}\t{i}" for i in range(4)]


def line(user, cells):
    return "\t".join([user, str(len(cells))] + [f"{i}|{t}" for i, t in cells])


def write_split(folder, train, valid, test, a_items=A_ITEMS, b_items=B_ITEMS):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Alist.txt").write_text("\n".join(a_items) + "\n")
    (folder / "Blist.txt").write_text("\n".join(b_items) + "\n")
    for name, rows in (
        ("traindata_new.txt", train),
        ("validdata_new.txt", valid),
        ("testdata_new.txt", test),
    ):
        (folder / name).write_text("".join(line(u, c) + "\n" for u, c in rows))
    return folder


def fixture(tmp_path):
    # u1: A and B (overlapped); its test line repeats its training cells and adds a target.
    u1 = [(0, 10), (6, 11), (1, 12), (7, 13), (2, 14), (8, 15)]
    train = [("u1", u1), ("u2", [(3, 5), (4, 6), (5, 7)]), ("u3", [(9, 1), (6, 2), (7, 3)])]
    valid = [("u4", [(1, 20), (2, 21), (3, 22), (4, 23)])]
    test = [("u1", u1 + [(3, 16)]), ("u5", [(8, 30), (9, 31), (6, 32), (7, 33)])]
    return write_split(tmp_path / "Food-Kitchen", train, valid, test)


def test_reads_interactions_by_id_range_once_each(tmp_path):
    raw = read_c2dsr(fixture(tmp_path))
    assert (raw.a.name, raw.b.name) == ("Food", "Kitchen")
    a, b = raw.a.interactions, raw.b.interactions
    # u1's repeated training cells count once: 4 A items for u1 (0, 1, 2 and the target 3)
    assert sorted(a.loc[a.user_id == "u1", "item_id"]) == [0, 1, 2, 3]
    assert sorted(b.loc[b.user_id == "u1", "item_id"]) == [0, 1, 2]  # B ids 6, 7, 8 -> 0, 1, 2
    assert b["item_id"].max() < 4 and a["item_id"].max() < 6
    assert set(a.user_id) == {"u1", "u2", "u4"} and set(b.user_id) == {"u1", "u3", "u5"}
    assert raw.a.titles[0] == "F0" and raw.b.titles[3] == "K3"
    assert a["rating"].isna().all()


def test_c2dsr_source_applies_our_split(tmp_path):
    folder = fixture(tmp_path)
    data = load_source(f"c2dsr:{folder},k_core=1,negatives=1")
    assert data.n_overlap == 1  # u1
    row = data.a.user_index["u1"]
    seq = data.a.sequence(row)
    # time order 10, 12, 14, 16: the last (item 3, the published target) is our test item too
    assert [str(data.a.item_raw[i - 1]) for i in seq] == ["0", "1", "2", "3"]
    assert str(data.a.item_raw[data.a.targets("test", np.array([row]))[0] - 1]) == "3"


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda f: (f / "Blist.txt").unlink(), r"Blist.txt: file not found"),
        (
            lambda f: (f / "testdata_new.txt").write_text("u9\t1\t3-16\n"),
            r"testdata_new.txt line 1 field 3: '3-16' is not item\|timestamp",
        ),
        (
            lambda f: (f / "validdata_new.txt").write_text("u9\t1\t42|16\n"),
            r"validdata_new.txt line 1 field 3: item 42 is outside 0..9",
        ),
        (
            lambda f: (f / "traindata_new.txt").write_text("u9\n"),
            r"traindata_new.txt line 1: expected a user id, a count",
        ),
    ],
)
def test_bad_folders_are_one_line_naming_file_line_and_field(tmp_path, damage, match):
    folder = fixture(tmp_path)
    damage(folder)
    with pytest.raises(DataError, match=match) as err:
        load_source(f"c2dsr:{folder},k_core=1")
    assert "\n" not in str(err.value)


def test_split_files_is_refused_in_one_line_and_a_file_is_not_a_folder(tmp_path):
    folder = fixture(tmp_path)
    with pytest.raises(DataError, match=r"split='files'.*not supported yet"):
        load_source(f"c2dsr:{folder},split=files")
    with pytest.raises(DataError, match="not a folder"):
        load_source(f"c2dsr:{folder / 'Alist.txt'}")
