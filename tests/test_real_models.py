"""Optimizers on real timm models and ImageFolder data (random-init, tiny, CPU).

A random-init timm ``test_vit`` / DeiT-Tiny run at 32 px (4 patch tokens + CLS) on a
generated ImageFolder of 3 classes: every optimizer command runs end to end, records its
weights and data, and every bad input is one line with exit 2 before any long work.
"""

import json

import numpy as np
import pytest
from conftest import need

torch = need("torch")
need("timm")
need("torchvision")

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for c in ("cat", "dog", "eel"):
        (root / c).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(
                root / c / f"{i}.png")
    return root


def _cli(capsys, *argv):
    import sim.cli as cli

    rc = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


TINY = ("--model", "timm:test_vit", "--random-init", "--img-size", "32")


# -- sources ------------------------------------------------------------------------------

def test_load_model_names_and_weights(tmp_path):
    from sim.errors import ConfigError
    from sim.torch.sources import load_model

    m, info = load_model("timm:test_vit", random_init=True)
    assert info == {"source": "timm", "name": "test_vit", "weights": "random-init"}
    ck = tmp_path / "w.pt"
    torch.save(m.state_dict(), ck)
    m2, info2 = load_model("test_vit", checkpoint=ck)  # bare timm name
    assert info2["weights"].startswith(f"checkpoint {ck} (sha256 ")
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="namespace must be one of"):
        load_model("onnx:foo", random_init=True)
    with pytest.raises(ConfigError, match="must be exactly one of"):
        load_model("timm:test_vit")  # random weights are never silent
    with pytest.raises(ConfigError, match="must match model 'test_vit2'"):
        load_model("timm:test_vit2", checkpoint=ck)
    hf, info3 = load_model("hf:vit", random_init=True,
                           hf_config=dict(num_hidden_layers=1, hidden_size=32,
                                          intermediate_size=64, num_attention_heads=2,
                                          image_size=32, patch_size=16))
    assert info3["source"] == "hf" and sum(p.numel() for p in hf.parameters()) > 0


# -- data ---------------------------------------------------------------------------------

def test_image_folder_subsets_are_disjoint_and_preprocessed(folder):
    from sim.torch.data import accuracy, image_folder, take
    from sim.torch.sources import load_model

    m, _ = load_model("timm:test_vit", random_init=True)
    m.set_input_size(img_size=32)
    cal = image_folder(folder, m, n=4)
    val = image_folder(folder, m, n=10, offset=4)
    assert not set(cal.indices) & set(val.indices)
    x, y = take(cal, 4)
    assert x.shape == (4, 3, 32, 32) and y.dtype == torch.long
    assert abs(float(x.mean())) < 1.0  # normalised with the timm mean/std
    loader = torch.utils.data.DataLoader(val, batch_size=3)
    z = torch.cat([m(xb).argmax(1) for xb, _ in loader])
    ys = torch.cat([yb for _, yb in loader])
    assert accuracy(m, loader) == pytest.approx(float((z == ys).float().mean()))


EXPECT = {"missing": "must be an existing ImageFolder directory",
          "empty": "must hold class folders with images", "broken": "must be a decodable image",
          "calib0": "--calib = 0; must be an integer >= 1", "cuda": "CUDA is not available",
          "mismatch": "must match model 'test_vit'", "no-weights": "must be exactly one of",
          "too-few": "must hold at least 102 images, has 18"}


@pytest.mark.parametrize("case", ["missing", "empty", "broken", "calib0", "cuda",
                                  "mismatch", "no-weights", "too-few"])
def test_bad_input_is_one_line_exit_2(case, folder, tmp_path, capsys):
    args = ["prune", "optin", *TINY, "--arch", "zcu102", "--budget", "latency=0.7",
            "--data", folder, "--calib", "2", "--val", "2", "--cache-dir", tmp_path]
    if case == "missing":
        args[args.index("--data") + 1] = tmp_path / "nope"
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        args[args.index("--data") + 1] = tmp_path / "empty"
    elif case == "broken":
        import shutil

        bad = tmp_path / "bad"
        shutil.copytree(folder, bad)
        for f in (bad / "cat").iterdir():
            f.write_bytes(b"not an image")
        args[args.index("--data") + 1] = bad
    elif case == "calib0":
        args[args.index("--calib") + 1] = "0"
    elif case == "cuda":
        if torch.cuda.is_available():
            pytest.skip("CUDA is present: --device cuda is valid here")
        args += ["--device", "cuda"]
    elif case == "mismatch":
        ck = tmp_path / "other.pt"
        from sim.torch.sources import load_model

        torch.save(load_model("timm:test_vit2", random_init=True)[0].state_dict(), ck)
        args[args.index("--random-init")] = "--checkpoint"
        args.insert(args.index("--checkpoint") + 1, ck)
    elif case == "no-weights":
        args.remove("--random-init")
    elif case == "too-few":
        args[args.index("--val") + 1] = "100"
    rc, out, err = _cli(capsys, *args)
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vitsim: error:"), err
    assert EXPECT[case] in lines[0], lines[0]
    assert "units x" not in err  # failed before the importance cost estimate


# -- optimizers from the CLI ----------------------------------------------------------------

def test_prune_optin_json_contract(folder, tmp_path, capsys):
    rc, out, err = _cli(capsys, "prune", "optin", *TINY, "--arch", "zcu102", "--budget",
                        "latency=0.7", "--data", folder, "--calib", "4", "--val", "8",
                        "--cache-dir", tmp_path, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["config"] == "beta" and d["weights"] == "random-init"
    assert d["data"] == {"dir": str(folder), "calib": 4, "val": 8, "seed": 0}
    assert d["pruned_latency_s"] <= 0.7 * d["baseline_latency_s"] * (1 + 1e-9)
    assert 0.0 <= d["accuracy"] <= 1.0 and 0.0 <= d["baseline_accuracy"] <= 1.0
    assert [len(v) for v in d["kept_heads"].values()] == d["head_counts"]
    assert [len(v) for v in d["kept_neurons"].values()] == d["widths"]
    assert d["trace_matches"] is True and d["budget_met"] is True


@pytest.fixture(scope="module")
def deit3(tmp_path_factory):
    """A random-init DeiT-Tiny checkpoint whose head only predicts classes 0..2 (so the
    3-class folder gives accuracies between 0 and 1 that move with the tokens kept)."""
    from sim.torch.sources import load_model

    m, _ = load_model("timm:deit_tiny_patch16_224", random_init=True)
    with torch.no_grad():
        m.head.bias[3:] = -100.0
    path = tmp_path_factory.mktemp("ck") / "deit3.pt"
    torch.save(m.state_dict(), path)
    return path


def _slow_a_of_n(model, x, y, n, seed):
    """Reference: one image at a time, drop tokens by index in Python."""
    from sim.torch.importance import _embed

    order = torch.rand(len(x), 4, generator=torch.Generator().manual_seed(seed)).argsort(1)
    hits = 0
    for i in range(len(x)):
        e = _embed(model, x[i:i + 1])
        keep = [0] + [1 + int(j) for j in order[i, :n - 1]]
        h = e[:, keep]
        for blk in model.blocks:
            h = blk(h)
        hits += int(model.forward_head(model.norm(h)).argmax(-1).item() == int(y[i]))
    return 100.0 * hits / len(x)


def test_measured_a_of_n_matches_slow_reference(folder, deit3):
    from sim.torch.data import image_folder, take
    from sim.torch.pomt_measure import measure_input_accuracy
    from sim.torch.sources import load_model

    m, _ = load_model("timm:deit_tiny_patch16_224", checkpoint=deit3)
    m.set_input_size(img_size=32)
    x, y = take(image_folder(folder, m, n=12), 12)
    rows = measure_input_accuracy(m, (x, y), seed=3, batch_size=64)
    assert [r["tokens"] for r in rows] == [2, 3, 4, 5]
    with torch.no_grad():
        for r in rows:
            assert r["top1"] == pytest.approx(_slow_a_of_n(m, x, y, r["tokens"], 3))
        full = 100.0 * float((m(x).argmax(-1) == y).float().mean())
    assert rows[-1]["top1"] == pytest.approx(full)  # n = all tokens: the plain model


def test_schedule_measure_writes_and_uses_the_csv(folder, deit3, tmp_path, capsys):
    csv = tmp_path / "a.csv"
    rc, out, err = _cli(capsys, "schedule", "--arch", "zcu102", "--measure", "--model",
                        "timm:deit_tiny_patch16_224", "--checkpoint", deit3, "--img-size",
                        "32", "--data", folder, "--val", "18", "--accuracy-out", csv, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["accuracy_source"] == "measured" and d["weights"].startswith("checkpoint")
    assert d["data"]["val"] == 18 and d["accuracy_file"] == str(csv)
    lines = [ln for ln in csv.read_text().splitlines() if not ln.startswith("#")]
    measured = {int(t): float(a) for t, a in (ln.split(",") for ln in lines[1:])}
    assert lines[0] == "tokens,top1" and sorted(measured) == [2, 3, 4, 5]
    used = {r["tokens"]: r["top1"] for r in d["accuracy_table"]}
    assert used == pytest.approx(measured)
    assert d["accuracy_baseline"] == pytest.approx(measured[5])
    rc, out, err = _cli(capsys, "schedule", "--arch", "zcu102", "--measure", "--model",
                        "timm:deit_tiny_patch16_224", "--random-init", "--data", folder,
                        "--val", "0")
    assert rc == 2 and "--val = 0; must be an integer >= 1" in err


def test_tau_counts_follow_optin_rules():
    from sim.search.optin.tau import counts_of

    # 4 blocks, 11 tokens (CLS + 10), floor = max(2, ceil(1.1)) = 2
    order = [(2, 1), (2, 2), (1, 1), (3, 1), (3, 2), (3, 3), (3, 4), (3, 5), (3, 6)]
    assert counts_of(order, 0, 11, 1, 4) == [11, 11, 11, 11]
    assert counts_of(order, 2, 11, 1, 4) == [11, 11, 9, 9]    # layer 3 inherits
    assert counts_of(order, 3, 11, 1, 4) == [11, 10, 9, 9]
    assert counts_of(order, 5, 11, 1, 4) == [11, 10, 9, 9]    # raw 9 >= previous 9
    assert counts_of(order, 9, 11, 1, 4) == [11, 10, 9, 5]    # ToMe: at most half of 8
    # a layer keeping <= 10% inherits the previous count
    many = [(1, p) for p in range(1, 11)]
    assert counts_of(many, 10, 11, 1, 2) == [11, 11]


def test_prune_optin_tau(folder, tmp_path, capsys):
    rc, out, err = _cli(capsys, "prune", "optin", "--model", "timm:test_vit", "--random-init",
                        "--img-size", "64", "--arch", "zcu102", "--budget", "macs=0.6",
                        "--config", "tau", "--tau-share", "0.2", "--data", folder,
                        "--calib", "4", "--val", "4", "--cache-dir", tmp_path, "--json")
    assert rc == 0, err
    d = json.loads(out)
    c = d["token_counts"]
    assert d["config"] == "tau" and d["tau_share"] == 0.2 and len(c) == 6
    assert c[0] == 17 and all(a >= b for a, b in zip(c, c[1:])) and c[-1] < 17
    assert d["trace_matches"] is True  # ToMe merges at run time to exactly these counts
    assert d["hn_fraction"] == pytest.approx(1 - 0.2 * 0.4, abs=0.02)
    assert d["budget_met"] and d["achieved_fraction"] <= 0.6 + 1e-9
    assert d["budget"] == "macs=0.6"
    assert d["macs_fraction"] == pytest.approx(d["achieved_fraction"])


def test_search_pivot_from_data(folder, deit3, tmp_path, capsys):
    from sim.search.pivot.efforts import load_efforts
    from sim.torch.cka import class_mean_entropy
    from sim.torch.data import image_folder, take
    from sim.torch.sources import load_model
    from sim.torch.transforms import skip_attention

    saved = tmp_path / "eff.yaml"
    rc, out, err = _cli(capsys, "search", "pivot", "--arch", "pivot_zcu102", "--model",
                        "timm:deit_tiny_patch16_224", "--checkpoint", deit3, "--img-size",
                        "32", "--data", folder, "--val", "12", "--effort", "low=1,3,5,7,9",
                        "--effort", "mid=1,5", "--effort", "full=", "--max-efforts", "3",
                        "--lec", "0.3", "--acc-drop", "0.5", "--mode", "analytic",
                        "--save-efforts", saved, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["efforts_source"] == "measured" and d["weights"].startswith("checkpoint")
    assert d["data"]["val"] == 12
    assert d["settings"]["efforts"]["low"]["skipped"] == [1, 3, 5, 7, 9]
    effs = {e.name: e for e in load_efforts(saved)}
    # reference: the low effort's entropies computed by hand on the same images
    m, _ = load_model("timm:deit_tiny_patch16_224", checkpoint=deit3)
    m.set_input_size(img_size=32)
    x, y = take(image_folder(folder, m, n=12), 12)
    with torch.no_grad():
        z = skip_attention(m, [1, 3, 5, 7, 9])(x).double().numpy()
    np.testing.assert_allclose(effs["low"].entropy, class_mean_entropy(z), rtol=1e-6)
    assert (effs["low"].correct == (z.argmax(1) == y.numpy())).all()
    assert effs["full"].kept == 12 and effs["low"].kept == 7


def test_prune_optin_says_when_the_budget_is_missed(folder, tmp_path, capsys):
    rc, out, err = _cli(capsys, "prune", "optin", *TINY, "--arch", "zcu102", "--budget",
                        "latency=0.2", "--config", "tau", "--tau-share", "0.2", "--data",
                        folder, "--calib", "2", "--val", "2", "--cache-dir", tmp_path)
    assert rc == 0, err
    assert "BUDGET NOT MET" in out
