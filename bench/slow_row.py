"""pushgate with one push service slow (+20 s): does a sick push service slow only its own?

One subscriber in SLOW_EVERY, spread through the audience, has its endpoint on the slow push
service (its own nginx, every answer after SLOW_DELAY_S); the rest are the same subscriptions
on the same healthy sink as in the plain row. The broadcast is timed, as the plain row is, from
the API call, but only until every healthy subscriber's outcome is recorded: the slow part is
not waited for. Its rate is the healthy part's msgs/s, which the table compares with the plain
row of the same run (issue #8: at least 90 %).

Each run has a store of its own, filled afresh: a gateway started on the last run's store would
resume that broadcast's slow messages, still pending there. The gateway is then stopped while
its requests to the slow service still sleep; restarting the slow nginx cuts them, so its drain
ends within a second rather than after the push timeout, and nothing healthy is touched.
"""

from __future__ import annotations

from bench.broadcast import healthy_part
from bench.config import SLOW_DELAY_S
from bench.env import BenchEnv
from bench.gateway import Gateway, HealthyLeft, create_site, fill_store
from bench.pushgate_row import run_broadcast
from bench.results import Row


class SlowServiceRow:
    """The row for one size, a run at a time (interleaved with the plain row's runs)."""

    def __init__(self, env: BenchEnv, size: int) -> None:
        self.env, self.size = env, size
        label = f"pushgate end to end, one push service slow (+{SLOW_DELAY_S} s)"
        self.row = Row("pushgate_slow", label, size)
        self._seen: list[str] = []  # per run: the slow service's state and pending messages

    def run_once(self, run: int) -> None:
        if self.row.note:  # an earlier run failed
            return
        try:
            self._run(run)
        except RuntimeError as exc:
            self.row.note = str(exc)[:200]

    def _run(self, run: int) -> None:
        env, size = self.env, self.size
        site = create_site(env.out_dir / f"pushgate-slow-{size}.db")
        on_slow = fill_store(env, site, size, slow=True)
        healthy = size - on_slow
        gw = Gateway(env, site)
        gw.start()
        env.slow.begin_row()
        left = HealthyLeft(site, size, env.slow_endpoint_prefix)
        name = f"pushgate-slow-{size}-{run}"
        try:
            done = healthy_part(healthy, left)
            result = run_broadcast(env, gw, site, self.row, size, name, done=done, messages=healthy)
            state = gw.push_services().get(f"127.0.0.1:{env.slow_port}", "unknown")
        finally:
            left.close()
            slow_log = env.slow.end_row(name)
            gw.terminate()
            env.slow.restart(env.slow.delay_ms)  # cuts the sleeping requests (see above)
            gw.stop()
        pending = result.counts.get("pending", 0)
        self._seen.append(f"{state}, {slow_log.created:,} answered, {pending:,} pending")
        self.row.extras["slow service"] = (
            f"{on_slow:,} of {size:,} subscribers, 201 after {SLOW_DELAY_S} s; "
            f"when the healthy part was done: {' / '.join(self._seen)}"
        )
