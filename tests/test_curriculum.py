

def test_the_learning_rate_schedule_counts_the_samplers_own_steps():
    """engine.plan_state asks the sampler for its steps; linear_warmup then decays to 0 at the sampler's last step."""
    import torch

    from nlpdiff.engine import linear_warmup, plan_state

    s = cur.make_sampler("competence", N, BS, 0, EPOCHS, 0.25, order=_order())
    state = plan_state(None, s, EPOCHS, 2, N, progress=False)
    assert state.total_steps == cur.budget_steps(N, BS, EPOCHS, 0.25) == 10
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = linear_warmup(opt, 0.1, state.total_steps)
    lrs = []
    for _ in range(state.total_steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[-1] == 0.0 and lrs[-2] > 0
