"""The benchmark workloads: name -> (description, cell sources)."""

from __future__ import annotations

from _cells_homework import HOMEWORK
from _cells_misc import EXPLORE_PLOTS, FEATURES_PCA, TEXT_BOW, TRAPS
from _cells_ml import TAB_BREAST_CANCER, TAB_DIGITS, TAB_IRIS_WINE
from _cells_sim import BIG_FRAME, SIM_HEAT, SIM_MONTECARLO, SIM_ODE_SPARSE, TIMESERIES

NOTEBOOKS: dict[str, tuple[str, list[str]]] = {
    "tab_iris_wine": ("Iris and wine: pandas features, bootstrap, KNN grid search.", TAB_IRIS_WINE),
    "homework": ("Many small cells: functions, a dataclass, closures, in-place edits.", HOMEWORK),
    "tab_digits": ("Digits: shared data/images buffer, SVC grid search, forest.", TAB_DIGITS),
    "explore_plots": (
        "Exploratory pandas, many small variables, matplotlib figures drawn, one unseeded draw.",
        EXPLORE_PLOTS,
    ),
    "traps": (
        "Generators, a sqlite connection, a lock, lambdas, aliases and numpy views.",
        TRAPS,
    ),
    "tab_breast_cancer": (
        "Breast cancer: missing values, imputation, polynomial features, boosting grid search.",
        TAB_BREAST_CANCER,
    ),
    "text_bow": (
        "Generated corpus: token lists, counters, inverted index, bag of words.",
        TEXT_BOW,
    ),
    "features_pca": ("Digits and wine: PCA, distance matrices, k-means, t-SNE.", FEATURES_PCA),
    "sim_ode_sparse": (
        "Lorenz trajectories and a sparse Poisson solve (slow cells).",
        SIM_ODE_SPARSE,
    ),
    "sim_heat": ("2-D heat equation with snapshots, views and ndimage.", SIM_HEAT),
    "timeseries": ("Minute sensor series: resampling, rolling windows, column dict.", TIMESERIES),
    "big_frame": ("12M-row sales frame: categoricals, groupby, pivot.", BIG_FRAME),
    "sim_montecarlo": ("GBM Monte Carlo: 2.4 GB of paths, views, scipy fit.", SIM_MONTECARLO),
}

QUICK = ["tab_iris_wine", "homework", "tab_digits"]
