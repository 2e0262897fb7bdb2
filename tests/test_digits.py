"""The digits ViT (sim.torch.digits): trained, accurate, cached, and its traces lower."""

import pytest
from conftest import need

torch = need("torch")
need("timm")
need("sklearn")


from sim.errors import ConfigError  # noqa: E402
from sim.torch import transforms as T  # noqa: E402
from sim.torch.digits import (  # noqa: E402
    evaluate,
    load_digits_data,
    load_digits_vit,
)
from sim.torch.export import export_trace  # noqa: E402
from sim.workload import full_trace, lower  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits_cache(request, tmp_path_factory):
    """pytest's cache dir (kept between sessions, so the ViT trains once per checkout);
    a fresh tmp dir when the cache plugin is off."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return cache.mkdir("vitsim_digits")
    return tmp_path_factory.mktemp("vitsim_digits")


@pytest.fixture(scope="session")
def digits(digits_cache):
    return load_digits_vit(seed=0, cache=digits_cache)


def test_accuracy_at_least_90_percent(digits):
    model, data = digits
    acc = evaluate(model, data)
    assert acc >= 0.90
    assert acc == pytest.approx(model.vitsim_train_info["accuracy"])
    assert len(data.y_test) == 360 and len(data.y_train) == 1437


def test_cached_model_is_reused(digits, digits_cache):
    model, _ = digits
    again, _ = load_digits_vit(seed=0, cache=digits_cache)
    assert again.vitsim_train_info == model.vitsim_train_info
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k


def test_split_is_deterministic():
    a, b, c = load_digits_data(0), load_digits_data(0), load_digits_data(1)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_train, b.y_train)
    assert not torch.equal(a.x_test, c.x_test)
    assert abs(float(a.x_train.mean())) < 1e-5


def _cycles(trace):
    """Simulated cycles (``sim.simulate`` on zcu102), or the op count before it exists."""
    import sim

    if getattr(sim, "simulate", None) is None:
        return len(lower(trace))
    return sim.simulate(sim.load_arch("zcu102"), trace).summary["cycles"]


def test_traces_of_pruned_digits_models(digits):
    model, data = digits
    x = data.x_test[:4]
    t = export_trace(model, x)
    assert (t.name, t.model.tokens, t.batch) == ("digits_vit", 17, 4)
    assert t.layers == full_trace(t.model, 4).layers
    variants = {
        "pomt": T.pomt_prune(model, 2, 6),
        "topk": T.topk_prune(model, 1, 9),
        "tome": T.tome(model, 2),
        "skip": T.skip_attention(model, [1, 3, 5]),
        "heads": T.prune_heads(model, {i: 2 for i in range(6)}),
    }
    accs, cycles = {}, {"full": _cycles(t)}
    for name, m in variants.items():
        accs[name] = evaluate(m, data)
        cycles[name] = _cycles(export_trace(m, x))
    assert all(c > 0 for c in cycles.values())
    assert cycles["skip"] < cycles["full"] and cycles["heads"] < cycles["full"]
    assert export_trace(variants["pomt"], x).layers[3].tokens == 11
    assert [lt.tokens for lt in export_trace(variants["tome"], x).layers] == \
        [17, 15, 13, 11, 9, 7]
    assert all(0.1 <= a <= 1.0 for a in accs.values())
    assert accs["pomt"] >= 0.5  # pruning 6 of 16 patches keeps most of the accuracy


def test_bad_seed():
    with pytest.raises(ConfigError, match="seed must be an integer >= 0"):
        load_digits_vit(seed=-1)


def test_training_is_identical_on_1_and_2_threads():
    """Threads are pinned inside training: the caller's thread count cannot change weights."""
    from sim.torch.digits import train_digits_vit, weights_checksum

    data = load_digits_data(0)
    sums = []
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            sums.append(weights_checksum(train_digits_vit(data, seed=0, epochs=1)))
            assert torch.get_num_threads() == threads  # restored after training
    finally:
        torch.set_num_threads(old)
    assert sums[0] == sums[1]
    other = train_digits_vit(data, seed=1, epochs=1)
    assert weights_checksum(other) != sums[0]  # the checksum sees the weights


def test_cache_is_keyed_by_recipe_and_written_atomically(tmp_path):
    from sim.torch.digits import recipe, recipe_key, weights_checksum

    assert recipe_key(recipe(0, epochs=1)) != recipe_key(recipe(0, epochs=2))
    assert recipe_key(recipe(0, epochs=1)) != recipe_key(recipe(1, epochs=1))
    m1, _ = load_digits_vit(seed=0, epochs=1, cache=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"digits_vit_{recipe_key(recipe(0, epochs=1))}.pt",
                     f"digits_vit_{recipe_key(recipe(0, epochs=1))}.pt.lock"]
    m2, _ = load_digits_vit(seed=0, epochs=1, cache=tmp_path)
    assert weights_checksum(m1) == weights_checksum(m2)
    blob = torch.load(tmp_path / files[0], weights_only=True)
    assert blob["recipe"] == recipe(0, epochs=1)
