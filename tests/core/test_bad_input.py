"""The bad-input corpus (issue 9): every case a hostile or careless user can type ends as exactly
one `error:` line on stderr, exit status 2, no traceback, and leaves every file it was pointed at
as it was. Each case runs the real CLI entry point in-process (fast: the checks run before any
training starts), so a case that regresses to a traceback fails here with the exception."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers.cli import assert_one_error, run_cli, snapshot

from recguru_core import cli

DEMO = Path(__file__).resolve().parents[2] / "checkpoints" / "demo.pt"
TINY = (
    "pretrain_epochs=1 adv_steps=2 adv_chunk=1 finetune_epochs=1 batch_size=64 d_model=16 "
    "d_ff=32 n_layers=1 cdsrec_layers=1 max_len=20 short_len=20 snapshots_during=1 "
    "critic_warmup=0"
).split()
SRC = "synthetic:users=300,k_core=2"


# ------------------------------------------------------------------------------ data files


def _ok_rows(users=60):
    return "".join(f"{u},{i},{t}\n" for u in range(users) for t, i in enumerate(range(u % 7, u % 7 + 6)))


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "ok.csv").write_text("user_id,item_id,timestamp\n" + _ok_rows())
    (d / "cr_header.csv").write_bytes(b"user_id,item\rid,timestamp\n1,2,3\n")
    (d / "nul_header.csv").write_bytes(b'user_id,item_id,"timestamp\n1,2,3\n')
    (d / "empty.csv").write_bytes(b"")
    (d / "header_only.csv").write_text("user_id,item_id,timestamp\n")
    (d / "no_ts.csv").write_text("user_id,item_id\n1,2\n")
    (d / "bad_ts.csv").write_text("user_id,item_id,timestamp\n1,2,yesterday\n")
    (d / "frac_ts.csv").write_text("user_id,item_id,timestamp\n1,2,3.5\n")
    (d / "missing_id.csv").write_text("user_id,item_id,timestamp\n,2,3\n")
    (d / "bad_rating.csv").write_text("user_id,item_id,timestamp,rating\n1,2,3,five\n")
    (d / "latin1.csv").write_bytes("user_id,item_id,timestamp\nJos\xe9,2,3\n".encode("latin-1"))
    (d / "fake.csv.gz").write_text("user_id,item_id,timestamp\n1,2,3\n")
    (d / "wrong.xlsx").write_text("x")
    (d / "binary.csv").write_bytes(os.urandom(2048))
    deep = "[" * 100_000 + "]" * 100_000
    (d / "nested.json").write_text(
        '{"reviewerID":"u","asin":"i","unixReviewTime":1}\n{"reviewerID":"u","asin":"i"}\n'
        f'{{"reviewerID":"u","asin":"i","unixReviewTime":1,"x":{deep}}}\n'
    )
    (d / "not_object.json").write_text("[1, 2, 3]\n")
    pd.DataFrame({"user_id": [[1], [2]], "item_id": ["a", "b"], "timestamp": [1, 2]}).to_parquet(
        d / "list_id.parquet"
    )
    pd.DataFrame({"user_id": [{"a": 1}, {"a": 2}], "item_id": ["a", "b"], "timestamp": [1, 2]}).to_parquet(
        d / "dict_id.parquet"
    )
    (d / "broken.parquet").write_bytes(b"PAR1 not really")
    (d / "ml").mkdir()
    return d


DATA_CASES = {
    "unknown source kind": (["stats", "excel:a,b"], "unknown source"),
    "missing file": (["stats", "csv:{d}/nope.csv,{d}/ok.csv"], "not found"),
    "a directory as file": (["stats", "csv:{d},{d}/ok.csv"], "not a file"),
    "one path for two": (["stats", "csv:{d}/ok.csv"], "two paths"),
    "unknown source option": (["stats", "csv:{d}/ok.csv,{d}/ok.csv,colour=red"], "unknown option"),
    "bad option value": (["stats", "csv:{d}/ok.csv,{d}/ok.csv,k_core=many"], "k_core"),
    "empty file": (["stats", "csv:{d}/empty.csv,{d}/ok.csv"], "empty"),
    "header only": (["stats", "csv:{d}/header_only.csv,{d}/ok.csv"], "no interactions"),
    "missing column": (["stats", "csv:{d}/no_ts.csv,{d}/ok.csv"], "timestamp"),
    "bare CR in header": (["stats", "csv:{d}/cr_header.csv,{d}/ok.csv"], "missing column"),
    "unterminated quote in header": (["stats", "csv:{d}/nul_header.csv,{d}/ok.csv"], "nul_header.csv"),
    "timestamp not a date": (["stats", "csv:{d}/bad_ts.csv,{d}/ok.csv"], "line 2"),
    "fractional timestamp": (["stats", "csv:{d}/frac_ts.csv,{d}/ok.csv"], "whole number"),
    "missing user id": (["stats", "csv:{d}/missing_id.csv,{d}/ok.csv"], "missing user_id"),
    "rating not a number": (["stats", "csv:{d}/bad_rating.csv,{d}/ok.csv"], "rating"),
    "not UTF-8": (["stats", "csv:{d}/latin1.csv,{d}/ok.csv"], "UTF-8"),
    "gz that is not gzip": (["stats", "csv:{d}/fake.csv.gz,{d}/ok.csv"], "gzip"),
    "unknown table format": (["stats", "csv:{d}/wrong.xlsx,{d}/ok.csv"], "format"),
    "random bytes": (["stats", "csv:{d}/binary.csv,{d}/ok.csv"], "binary.csv"),
    "deeply nested JSON": (["stats", "amazon:{d}/nested.json,{d}/nested.json"], "nested"),
    "JSON line not an object": (["stats", "amazon:{d}/not_object.json,{d}/not_object.json"], "object"),
    "list-valued id column": (["stats", "csv:{d}/list_id.parquet,{d}/ok.csv"], "is a list"),
    "dict-valued id column": (["stats", "csv:{d}/dict_id.parquet,{d}/ok.csv"], "is a dict"),
    "not Parquet": (["stats", "csv:{d}/broken.parquet,{d}/ok.csv"], "Parquet"),
    "empty MovieLens folder": (["stats", "movielens:{d}/ml"], "ml"),
    "k-core empties a domain": (["stats", "csv:{d}/ok.csv,{d}/ok.csv,k_core=50"], "empty after"),
    "synthetic unknown key": (["stats", "synthetic:colour=3"], "colour"),
    "synthetic overlap out of range": (["stats", "synthetic:overlap=2"], "overlap"),
    "synthetic too many users": (["stats", "synthetic:users=1000000000000"], "needs about"),
}


@pytest.mark.parametrize("name", list(DATA_CASES))
def test_bad_data_is_one_line(name, files, capsys):
    argv, contains = DATA_CASES[name]
    before = snapshot(files)
    assert_one_error([a.format(d=files) for a in argv], capsys, contains=contains)
    assert snapshot(files) == before


# ------------------------------------------------------------------------------ train settings

TRAIN_CASES = {
    "unknown override": (["adv_stepz=3"], "unknown override"),
    "override not key=value": (["--", "adv_steps"], ""),
    "override wrong type": (["adv_steps=many"], "adv_steps"),
    "NaN learning rate": (["adv_lr=nan"], "adv_lr"),
    "negative learning rate": (["ft_lr=-1"], "ft_lr"),
    "negative gp_weight": (["gp_weight=-1"], "gp_weight"),
    "infinite loss weight": (["w_l2=inf"], "w_l2"),
    "NaN noam factor": (["noam_factor=nan"], "noam_factor"),
    "zero batch": (["batch_size=0"], "batch_size"),
    "beta out of range": (["adv_beta1=1.5"], "adv_beta1"),
    "dropout out of range": (["dropout=1"], "dropout"),
    "heads do not divide d_model": (["d_model=10", "n_heads=3"], "n_heads"),
    "unknown critic": (["critic=svm"], "critic"),
    "negative grad_clip": (["grad_clip=-1"], "grad_clip"),
    "world_size by hand": (["world_size=4"], "world_size"),
    "huge d_model": (["d_model=1000000000"], "needs about"),
    "huge neg_softmax": (["neg_softmax=100000000"], "other items"),
    "unknown preset": (["--preset", "turbo"], "preset"),
    "bad seed": (["--seed", "abc"], "--seed"),
    "negative seed": (["--seed", "-3"], "--seed"),
    "min_user_len below 3": ([], "min_user_len"),
    "threads not a number": (["--threads", "many"], "--threads"),
    "negative threads": (["--threads", "-2"], "--threads"),
}


@pytest.mark.parametrize("name", list(TRAIN_CASES))
def test_bad_train_settings_are_one_line(name, tmp_path, capsys):
    extra, contains = TRAIN_CASES[name]
    source = SRC + (",min_user_len=2" if name == "min_user_len below 3" else "")
    argv = ["train", source, "--out", tmp_path / "x.pt", "--quiet", *TINY, *extra]
    if extra and extra[0] == "--":
        argv = ["train", source, "--out", tmp_path / "x.pt", "--quiet", "adv_steps"]
    assert_one_error(argv, capsys, contains=contains)
    assert not (tmp_path / "x.pt").exists()


ARG_CASES = {
    "no command": ([], "required"),
    "unknown command": (["fly"], "invalid choice"),
    "bad split": (["evaluate", DEMO, "--split", "train"], "--split"),
    "bad domain": (["recommend", DEMO, "--user", "1", "--domain", "C"], "--domain"),
    "k not a number": (["recommend", DEMO, "--user", "1", "--domain", "A", "--k", "x"], "--k"),
    "k zero": (["recommend", DEMO, "--user", "1", "--domain", "A", "--k", "0"], "--k"),
    "k beyond the unseen items": (
        ["recommend", DEMO, "--user", "1", "--domain", "A", "--k", "100000"],
        "unseen items",
    ),
    "unknown user": (["recommend", DEMO, "--user", "nobody", "--domain", "A"], "nobody"),
    "bad projection method": (["project", DEMO, "--method", "tsne"], "--method"),
    "bad --users": (["project", DEMO, "--users", "-5"], "--users"),
    "unknown flag": (["evaluate", DEMO, "--colour"], "unrecognized"),
    "bad benchmark models": (["benchmark", "synthetic", "--out", "{t}/r.json", "--models", "pop,gpt"], "gpt"),
    "bad benchmark overlap": (
        ["benchmark", "synthetic", "--out", "{t}/r.json", "--overlap", "1.5"],
        "overlap",
    ),
}


@pytest.mark.parametrize("name", list(ARG_CASES))
def test_bad_arguments_are_one_line(name, tmp_path, capsys):
    argv, contains = ARG_CASES[name]
    demo_before = DEMO.stat().st_mtime_ns
    assert_one_error([str(a).format(t=tmp_path) for a in argv], capsys, contains=contains)
    assert DEMO.stat().st_mtime_ns == demo_before


# ------------------------------------------------------------------------------ --out


def test_out_that_cannot_be_written(tmp_path, capsys):
    (tmp_path / "a_file").write_text("keep me")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = {
        tmp_path: "is a directory",
        tmp_path / "a_file" / "x.pt": "is a file",
        "/proc/x.pt": "cannot write",
        "": "expected a file path",
    }
    if os.geteuid() != 0:  # root writes anywhere
        cases[locked / "x.pt"] = "cannot write"
    for out, contains in cases.items():
        assert_one_error(["train", SRC, "--out", out, *TINY], capsys, contains=contains)
    assert (tmp_path / "a_file").read_text() == "keep me"
    locked.chmod(0o700)


def test_out_never_replaces_input_or_checkpoint_without_force(files, tmp_path, capsys):
    data = f"csv:{files}/ok.csv,{files}/ok.csv,k_core=2"
    assert_one_error(["train", data, "--out", files / "ok.csv", *TINY], capsys, contains="input data file")
    (tmp_path / "notes.pt").write_text("my notes")
    assert_one_error(
        ["train", SRC, "--out", tmp_path / "notes.pt", *TINY], capsys, contains="not a RecGURU checkpoint"
    )
    assert (tmp_path / "notes.pt").read_text() == "my notes"
    copy = tmp_path / "demo.pt"
    copy.write_bytes(DEMO.read_bytes())
    copy.chmod(0o644)
    before = copy.read_bytes()
    assert_one_error(["train", SRC, "--out", copy, *TINY], capsys, contains="--force")
    assert copy.read_bytes() == before
    assert_one_error(
        ["train", SRC, "--out", copy, "--force", "--resume", *TINY], capsys, contains="contradict"
    )


def test_resume_refuses_a_different_command(tmp_path, capsys):
    copy = tmp_path / "demo.pt"
    copy.write_bytes(DEMO.read_bytes())
    line = assert_one_error(
        ["train", "synthetic:users=99", "--out", copy, "--resume", "adv_steps=7", "--seed", "5"],
        capsys,
        contains="differs",
    )
    assert "adv_steps" in line and "seed" in line and "source" in line


def test_force_replaces_keeps_mode_and_cleans_orphaned_temps(tmp_path, capsys):
    out = tmp_path / "run.pt"
    out.write_bytes(DEMO.read_bytes())
    out.chmod(0o640)
    orphan = tmp_path / "run.pt.recguru-abc_1234.tmp"  # the atomic writer's naming
    orphan.write_bytes(b"half a checkpoint")
    rc, lines = run_cli(["train", SRC, "--out", out, "--force", "--quiet", *TINY], capsys)
    assert rc == 0, lines
    assert not orphan.exists()
    assert out.stat().st_mode & 0o777 == 0o640
    from recguru_core.train.checkpoints import load_checkpoint

    assert load_checkpoint(out)["status"] == "complete"


# ------------------------------------------------------------------------------ checkpoints


def _demo_copy():
    return torch.load(DEMO, map_location="cpu", weights_only=True)


def _shorter_users(c):
    c["data"]["A"]["user_raw"] = c["data"]["A"]["user_raw"][:-1]


def _items_out_of_range(c):
    c["data"]["B"]["items"][0] = 10**6


def _bad_offsets(c):
    c["data"]["A"]["offsets"][1] = c["data"]["A"]["offsets"][2] + 1


def _empty_data(c):
    c["data"]["A"]["offsets"] = torch.zeros(1, dtype=torch.long)
    c["data"]["A"]["items"] = torch.zeros(0, dtype=torch.int32)


def _negatives_shape(c):
    c["data"]["A"]["negatives"] = c["data"]["A"]["negatives"][:5]


def _item_count(c):
    c["config"]["model"]["n_items_a"] += 1


def _titles_short(c):
    c["data"]["B"]["titles"] = c["data"]["B"]["titles"][:3]


def _newer(c):
    c["version"] = 99


def _no_model(c):
    del c["model"]


CORRUPTIONS = {
    "user list shorter than the sequences": (_shorter_users, "user_raw"),
    "items out of range": (_items_out_of_range, "items"),
    "offsets that do not index the items": (_bad_offsets, "offsets"),
    "empty data": (_empty_data, "offsets"),
    "candidates of another shape": (_negatives_shape, "negatives"),
    "model and data disagree on items": (_item_count, "n_items_a"),
    "titles shorter than the catalogue": (_titles_short, "titles"),
    "newer version": (_newer, "newer"),
    "missing section": (_no_model, "model"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_inconsistent_checkpoints_are_refused(name, tmp_path, capsys):
    corrupt, contains = CORRUPTIONS[name]
    ckpt = _demo_copy()
    corrupt(ckpt)
    path = tmp_path / "bad.pt"
    torch.save(ckpt, path)
    for argv in (["evaluate", path], ["recommend", path, "--user", "1", "--domain", "A"]):
        assert_one_error(argv, capsys, contains=contains)


class _Marker:
    """Unpickling this would create a file: proof that no pickled payload ever runs."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_foreign_files_as_checkpoints(tmp_path, capsys):
    marker = tmp_path / "executed"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "recguru-explorer", "version": 1, "payload": _Marker(marker)}, evil)
    (tmp_path / "pickle.pt").write_bytes(pickle.dumps(_Marker(marker)))
    (tmp_path / "table.pt").write_text("user_id,item_id,timestamp\n1,2,3\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "zip.pt", "w") as z:
        z.writestr("hello.txt", "hi")
    (tmp_path / "truncated.pt").write_bytes(DEMO.read_bytes()[:5000])
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    for name in ("evil", "pickle", "table", "empty", "zip", "truncated", "plain"):
        assert_one_error(["evaluate", tmp_path / f"{name}.pt"], capsys, contains=f"{name}.pt")
    assert_one_error(["evaluate", tmp_path / "missing.pt"], capsys, contains="no such")
    assert not marker.exists()


# ------------------------------------------------------------------------------ faults


def test_disk_full_keeps_the_previous_file(tmp_path, monkeypatch):
    import errno

    from recguru_core.common import atomic
    from recguru_core.common.errors import RecGuruError

    target = tmp_path / "f.bin"
    target.write_bytes(b"previous")

    def full(f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(RecGuruError, match="no space left.*previous file is unchanged"):
        atomic.atomic_write(target, full)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temp file left behind


def test_memory_estimate_counts_the_real_parameters():
    from recguru_core.common.memory import parameter_count
    from recguru_core.nn.model import Discriminator, ModelConfig, RecGURU

    for extra in (
        {},
        {"shared_encoder": False},
        {"shared_eos_position": False, "disc_layers": 2},
        {"d_model": 16, "n_heads": 4, "d_ff": 24, "n_layers": 1, "cdsrec_layers": 2},
    ):
        cfg = ModelConfig(n_items_a=37, n_items_b=101, max_len=12, **extra)
        real = sum(
            p.numel() for m in (RecGURU(config=cfg), Discriminator.from_config(cfg)) for p in m.parameters()
        )
        assert parameter_count(cfg) == real


# ------------------------------------------------------------------------------ round three (issue 19)
# --progress never appends to a file that is not its own log, --out's clean-up removes only the
# temp files the atomic writer makes, and the newer commands (benchmark rows, compare, health,
# slim, memory) end in one line. Each damage case compares the bytes afterwards.


def test_progress_never_appends_to_an_input_a_checkpoint_or_notes(files, tmp_path, capsys):
    data = f"csv:{files}/ok.csv,{files}/ok.csv,k_core=2"
    ckpt = tmp_path / "done.pt"
    ckpt.write_bytes(DEMO.read_bytes())
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    json_not_log = tmp_path / "other.json"
    json_not_log.write_text('{"results": []}\n')
    before = {p: p.read_bytes() for p in (files / "ok.csv", ckpt, notes, json_not_log)}
    cases = [
        ([data, "--out", tmp_path / "a.pt", "--progress", files / "ok.csv"], "input data file"),
        ([SRC, "--out", tmp_path / "b.pt", "--progress", ckpt], "not a progress log"),
        ([SRC, "--out", ckpt, "--force", "--progress", ckpt], "--out checkpoint itself"),
        ([SRC, "--out", ckpt, "--resume", "--progress", ckpt], "--out checkpoint itself"),
        ([SRC, "--out", tmp_path / "c.pt", "--progress", notes], "not a progress log"),
        ([SRC, "--out", tmp_path / "d.pt", "--progress", json_not_log], "not a progress log"),
    ]
    for argv, contains in cases:
        assert_one_error(["train", *argv, "--quiet", *TINY], capsys, contains=contains)
    assert {p: p.read_bytes() for p in before} == before
    assert not any((tmp_path / f"{x}.pt").exists() for x in "abcd")


def test_progress_and_out_the_same_new_path(tmp_path, capsys):
    same = tmp_path / "x.pt"
    assert_one_error(
        ["train", SRC, "--out", same, "--progress", same, *TINY], capsys, contains="--out checkpoint itself"
    )
    assert not same.exists()


def test_progress_paths_that_cannot_be_opened(tmp_path, capsys):
    (tmp_path / "a_file").write_text("keep me")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    cases = {
        "/proc/progress.jsonl": "cannot write",
        tmp_path: "is a directory",
        tmp_path / "a_file" / "p.jsonl": "is a file",
        fifo: "not a regular file",
        "": "expected a file path",
    }
    for path, contains in cases.items():
        assert_one_error(
            ["train", SRC, "--out", tmp_path / "x.pt", "--progress", path, *TINY], capsys, contains=contains
        )
    assert (tmp_path / "a_file").read_text() == "keep me"
    assert not (tmp_path / "x.pt").exists()


def test_progress_folder_is_created_and_an_existing_log_is_continued(tmp_path):
    from recguru_core.train.progress_log import check_progress_path, is_progress_log

    deep = tmp_path / "new" / "folder" / "run.jsonl"
    assert check_progress_path(deep, out=tmp_path / "x.pt", source=SRC) == deep
    assert deep.parent.is_dir() and not deep.exists()
    log = tmp_path / "log.jsonl"
    log.write_text('{"event": "totals", "totals": {}}\n{"phase": "pretrain", "step": 1}\n')
    check_progress_path(log, out=tmp_path / "x.pt", source=SRC)  # a resumed run appends
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert is_progress_log(tmp_path / "empty.jsonl") and is_progress_log(log)
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00garbage")
    assert not is_progress_log(tmp_path / "bin")


def test_out_cleanup_removes_only_the_writers_temp_files(tmp_path):
    from recguru_core.train.outputs import remove_orphaned_temps

    out = tmp_path / "x.pt"
    keep = {
        "x.pt.notes.tmp": b"user notes",
        "x.pt.abcdefgh.tmp": b"older naming",
        "x.pt.recguru-short.tmp": b"not 8 chars",
        "y.pt.recguru-abcd1234.tmp": b"another out",
    }
    for name, data in keep.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "x.pt.recguru-dir_1234.tmp").mkdir()
    (tmp_path / "x.pt.recguru-lnk_1234.tmp").symlink_to(tmp_path / "x.pt.notes.tmp")
    orphan = tmp_path / "x.pt.recguru-k3j_9q0z.tmp"
    orphan.write_bytes(b"half a checkpoint")
    assert remove_orphaned_temps(out) == [orphan]
    assert {n: (tmp_path / n).read_bytes() for n in keep} == keep
    assert (tmp_path / "x.pt.recguru-dir_1234.tmp").is_dir()
    assert (tmp_path / "x.pt.recguru-lnk_1234.tmp").is_symlink()


def _results_file(tmp_path, rows, bootstrap=()):
    import json

    good = {
        "model": "pop",
        "domain": "A",
        "overlap": None,
        "seed": 0,
        "seconds": 1.0,
        "sampled": {"NDCG@10": 0.1},
        "full": {"NDCG@10": 0.01},
    }
    path = tmp_path / "r.json"
    path.write_text(
        json.dumps(
            {
                "format": "recguru-benchmark",
                "version": 1,
                "settings": {"source": "synthetic", "preset": "quick", "overrides": {}},
                "results": [good, *rows],
                "bootstrap": list(bootstrap),
            }
        )
    )
    return path


BENCHMARK_ROWS = {
    "row without model": ({"domain": "A", "seed": 0}, "row 2 has no 'model'"),
    "seed not an integer": ({"model": "pop", "domain": "A", "seed": "x", "seconds": 1}, "'seed'"),
    "row is a string": ("pop,A,0", "row 2 is a str"),
    "domain not A or B": ({"model": "pop", "domain": "C", "seed": 0, "seconds": 1}, "'domain'"),
    "metric not a number": (
        {"model": "pop", "domain": "B", "seed": 0, "seconds": 1, "sampled": {"NDCG@10": "high"}, "full": {}},
        "'NDCG@10'",
    ),
    "overlap out of range": ({"model": "pop", "domain": "B", "overlap": 7, "seed": 0}, "'overlap'"),
}


@pytest.mark.parametrize("name", list(BENCHMARK_ROWS))
def test_benchmark_results_with_a_corrupt_row(name, tmp_path, capsys):
    row, contains = BENCHMARK_ROWS[name]
    path = _results_file(tmp_path, [row])
    before = path.read_bytes()
    for argv in (
        ["benchmark", "--out", path, "--report"],
        ["benchmark", "synthetic", "--out", path, "--models", "pop"],
    ):
        assert_one_error(argv, capsys, contains=contains)
    assert path.read_bytes() == before and not (tmp_path / "r.md").exists()


def test_benchmark_bootstrap_rows_are_checked_too(tmp_path, capsys):
    path = _results_file(tmp_path, [], bootstrap=["nonsense"])
    assert_one_error(["benchmark", "--out", path, "--report"], capsys, contains="bootstrap row 1")


def test_benchmark_seed_count_is_bounded(tmp_path, capsys):
    assert_one_error(
        ["benchmark", "synthetic", "--out", tmp_path / "r.json", "--seeds", "1000000000"],
        capsys,
        contains="from 1 to",
    )
    assert not list(tmp_path.iterdir())


def _hist_not_record(c):
    c["history"][3] = "step 3"


def _hist_field(c):
    c["history"][7] = {**c["history"][7], "gur_erank": "high"}


def _hist_phase(c):
    c["history"][0] = {**c["history"][0], "phase": 2}


def _metric_entry(c):
    c["metrics"]["test"] = "0.3"


def _metric_value(c):
    c["metrics"]["valid"]["B"]["NDCG@10"] = [0.3]


def _baseline_entry(c):
    c["baselines"]["POP"]["paired"]["test"]["A"]["NDCG@10"] = "better"


ENTRY_CORRUPTIONS = {
    "history entry not a record": (_hist_not_record, "history entry 3"),
    "history field not a number": (_hist_field, "gur_erank"),
    "history phase unknown": (_hist_phase, "phase"),
    "metrics split not a dict": (_metric_entry, "metrics['test']"),
    "metric value a list": (_metric_value, "NDCG@10"),
    "paired interval not numbers": (_baseline_entry, "paired"),
}


@pytest.mark.parametrize("name", list(ENTRY_CORRUPTIONS))
def test_wrong_type_entries_are_refused_by_compare_and_health(name, tmp_path, capsys):
    corrupt, contains = ENTRY_CORRUPTIONS[name]
    ckpt = _demo_copy()
    corrupt(ckpt)
    path = tmp_path / "bad.pt"
    torch.save(ckpt, path)
    before = path.read_bytes()
    for argv in (["compare", DEMO, path], ["evaluate", path, "--health"], ["evaluate", path, "--alignment"]):
        assert_one_error(argv, capsys, contains=contains)
    assert path.read_bytes() == before


def test_slim_on_a_missing_or_foreign_path(tmp_path, capsys):
    assert_one_error(["slim", tmp_path / "missing.pt"], capsys, contains="no such")
    table = tmp_path / "table.pt"
    table.write_text("user_id,item_id\n")
    assert_one_error(["slim", table], capsys, contains="table.pt")
    assert table.read_text() == "user_id,item_id\n" and not (tmp_path / "missing.pt").exists()


@pytest.mark.parametrize("setting", ["neg_softmax=100000", "bpr_negatives=100000"])
def test_negatives_beyond_the_catalogue_are_refused(setting, tmp_path, capsys):
    assert_one_error(
        ["train", SRC, "--out", tmp_path / "x.pt", *TINY, setting], capsys, contains="other items"
    )
    assert not (tmp_path / "x.pt").exists()


def test_memory_estimate_counts_bpr_negatives():
    from recguru_core.common.config import TrainConfig
    from recguru_core.common.memory import training_bytes
    from recguru_core.nn.model import ModelConfig

    m = ModelConfig(n_items_a=5000, n_items_b=5000, max_len=50)
    small = training_bytes(m, TrainConfig(bpr_negatives=10), longest=50)["activations"]
    large = training_bytes(m, TrainConfig(bpr_negatives=4000), longest=50)["activations"]
    assert large > 10 * small


def test_address_space_limit_is_read_and_refused_in_one_line(tmp_path):
    """Under `ulimit -v` a size that fits in RAM but not in the address space is refused by the
    pre-check (one line), not by the allocator (a RuntimeError traceback)."""
    import resource
    import subprocess
    import sys

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    out = tmp_path / "x.pt"
    cmd = [
        sys.executable,
        "-m",
        "recguru_core",
        "train",
        SRC,
        "--out",
        str(out),
        "--quiet",
        *TINY,
        "d_model=512",
        "d_ff=65536",
        "n_heads=1",
    ]  # ~11 GiB: fits RAM, not the limit
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("RECGURU_NO_MEMORY_CHECK", None)
    run = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    lines = [x for x in run.stderr.splitlines() if x.strip()]
    assert run.returncode == 2, run.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "needs about" in lines[0], lines
    import re

    have = float(re.search(r"more than the ([0-9.]+) GiB available", lines[0]).group(1))
    assert have < 6, lines[0]  # the address-space limit, not the machine's RAM, refused it
    assert not out.exists()


def test_nan_weights_are_refused_at_upload(tmp_path, monkeypatch):
    import io

    from recguru_core.common.errors import CheckpointError
    from ui import uploads

    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    ckpt = _demo_copy()
    ckpt["model"] = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in ckpt["model"].items()
    }
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    with pytest.raises(CheckpointError, match="diverged.pt: .*NaN or infinite"):
        uploads.save_uploaded_checkpoint("diverged.pt", buf.getvalue(), session="s1")
    assert not [p for p in (tmp_path / "checkpoints").rglob("*") if p.is_file()]


def test_an_allocator_failure_past_the_precheck_is_one_line(tmp_path, capsys, monkeypatch):
    from recguru_core.train import runs

    def refuse(*args, **kwargs):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:119] DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 68719476736 bytes"
        )

    monkeypatch.setattr(runs, "build_trainer", refuse)
    log = tmp_path / "p.jsonl"
    assert_one_error(
        ["train", SRC, "--out", tmp_path / "x.pt", "--progress", log, *TINY], capsys, contains="out of memory"
    )
    assert not (tmp_path / "x.pt").exists()
    assert '"status": "failed"' in log.read_text()  # the app's runner learns why
    monkeypatch.setattr(runs, "build_trainer", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):  # other errors are not dressed up as memory
        cli.main(["train", SRC, "--out", str(tmp_path / "y.pt"), *TINY])
