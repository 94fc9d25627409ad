"""Cell sources of the numeric notebooks: simulations with numpy and scipy, big arrays."""

from __future__ import annotations

SIM_HEAT = [
    """
import numpy as np
from scipy import ndimage
""",
    """
n = 1500
alpha, dt = 0.2, 0.2
u = np.zeros((n, n))
u[n // 3 : n // 2, n // 3 : n // 2] = 100.0
interior = u[1:-1, 1:-1]
print(np.shares_memory(u, interior))
""",
    """
def step(field):
    lap = (
        field[:-2, 1:-1] + field[2:, 1:-1] + field[1:-1, :-2] + field[1:-1, 2:]
        - 4 * field[1:-1, 1:-1]
    )
    field[1:-1, 1:-1] += alpha * dt * lap
    return field
""",
    """
snapshots = []
for t in range(300):
    step(u)
    if t % 20 == 0:
        snapshots.append(u.copy())
len(snapshots), sum(s.nbytes for s in snapshots) / 1e6
""",
    """
latest = snapshots[-1]
energy = np.array([s.sum() for s in snapshots])
smoothed = ndimage.gaussian_filter(latest, sigma=3)
gradient = np.gradient(smoothed)
""",
    """
hot = latest > latest.mean()
hot_labels, n_regions = ndimage.label(hot)
n_regions, float(energy[-1])
""",
]

SIM_MONTECARLO = [
    """
import numpy as np
from scipy import stats
""",
    """
rng = np.random.default_rng(2024)
n_paths, n_steps = 40_000, 1_500
mu, sigma, s0, dt = 0.05, 0.2, 100.0, 1 / 252
""",
    """
shocks = rng.standard_normal((n_paths, n_steps))
log_paths = np.cumsum((mu - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * shocks, axis=1)
paths = s0 * np.exp(log_paths)
paths.nbytes / 1e9
""",
    """
final = paths[:, -1]
first_year = paths[:, :252]
running_max = np.maximum.accumulate(paths, axis=1)
drawdown = 1 - paths / running_max
print(np.shares_memory(final, paths), np.shares_memory(first_year, paths))
""",
    """
fit = stats.lognorm.fit(final[:20_000], floc=0)
ks = stats.kstest(final[:20_000], "lognorm", args=fit)
quantiles = np.quantile(final, [0.01, 0.05, 0.5, 0.95, 0.99])
fit, ks.pvalue
""",
    """
strikes = np.linspace(80, 140, 25)
payoffs = np.maximum(final[:, None] - strikes[None, :], 0)
prices = np.exp(-mu * n_steps * dt) * payoffs.mean(axis=0)
worst_drawdown = drawdown.max(axis=1)
prices[:3]
""",
]

SIM_ODE_SPARSE = [
    """
import numpy as np
from scipy import integrate, sparse
from scipy.sparse import linalg as splinalg
""",
    """
def lorenz(t, state, sigma=10.0, rho=28.0, beta=8 / 3):
    x, y, z = state
    return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]

rng = np.random.default_rng(5)
starts = rng.normal(0, 5, size=(60, 3))
t_eval = np.linspace(0, 30, 6000)
""",
    """
trajectories = np.stack([
    integrate.solve_ivp(lorenz, (0, 30), s, t_eval=t_eval, rtol=1e-8).y for s in starts
])
trajectories.shape
""",
    """
m = 500
main = 4 * np.ones(m * m)
side = -np.ones(m * m - 1)
side[np.arange(1, m * m) % m == 0] = 0
far = -np.ones(m * m - m)
laplacian = sparse.diags([main, side, side, far, far], [0, 1, -1, m, -m], format="csc")
rhs = np.sin(np.linspace(0, 20, m * m))
""",
    """
solution = splinalg.spsolve(laplacian, rhs)
residual = np.linalg.norm(laplacian @ solution - rhs)
field = solution.reshape(m, m)
residual
""",
    """
eigenvalues = splinalg.eigsh(laplacian, k=6, sigma=0, return_eigenvectors=False)
spread = trajectories[:, :, -1].std(axis=0)
eigenvalues, spread
""",
]

BIG_FRAME = [
    """
import numpy as np
import pandas as pd
""",
    """
rng = np.random.default_rng(11)
n = 12_000_000
sales = pd.DataFrame({
    "store": rng.integers(0, 500, n).astype("int32"),
    "product": rng.integers(0, 2_000, n).astype("int32"),
    "units": rng.poisson(3, n).astype("int16"),
    "price": rng.gamma(2.0, 8.0, n),
    "discount": rng.random(n) * 0.3,
})
sales.memory_usage().sum() / 1e9
""",
    """
sales["revenue"] = sales["units"] * sales["price"] * (1 - sales["discount"])
sales["region"] = pd.Categorical.from_codes(sales["store"] % 8, list("ABCDEFGH"))
""",
    """
by_store = sales.groupby("store", observed=True)["revenue"].agg(["sum", "mean", "count"])
by_region = sales.groupby("region", observed=True)[["units", "revenue"]].sum()
by_store.shape, by_region.shape
""",
    """
big_tickets = sales[sales["revenue"] > sales["revenue"].quantile(0.9)]
top_products = big_tickets["product"].value_counts().head(20)
len(big_tickets) / 1e6
""",
    """
pivot = sales.pivot_table(
    index="store", columns="region", values="revenue", aggfunc="sum", observed=True
)
pivot.shape
""",
]

TIMESERIES = [
    """
import numpy as np
import pandas as pd
""",
    """
rng = np.random.default_rng(3)
index = pd.date_range("2023-01-01", periods=2_000_000, freq="min")
sensors = pd.DataFrame(
    rng.normal(20, 2, size=(len(index), 6)).cumsum(axis=0) / 100 + 20,
    index=index,
    columns=[f"s{i}" for i in range(6)],
)
sensors.memory_usage().sum() / 1e6
""",
    """
hourly = sensors.resample("h").mean()
daily = sensors.resample("D").agg(["min", "max", "mean"])
rolling = sensors.rolling(60).mean()
""",
    """
anomalies = (sensors - rolling).abs() > 3 * sensors.std()
anomaly_counts = anomalies.sum()
per_sensor = {name: sensors[name] for name in sensors.columns}
per_sensor["s0"].iloc[:3]
""",
    """
corr = sensors.corr()
lagged = pd.concat({lag: sensors["s0"].shift(lag) for lag in (1, 5, 15, 60)}, axis=1)
lagged.dropna().shape
""",
]
