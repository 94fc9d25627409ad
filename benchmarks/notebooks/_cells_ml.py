"""Cell sources of the tabular machine-learning notebooks (scikit-learn bundled datasets)."""

from __future__ import annotations

TAB_DIGITS = [
    """
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
""",
    """
digits = load_digits()
X, y = digits.data, digits.target
images = digits.images
print(X.shape, images.shape, np.shares_memory(X, images))
""",
    """
df = pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])
df["label"] = y
df.describe().T.head()
""",
    """
df["ink"] = df.filter(like="px").sum(axis=1)
df["row_mean"] = images.mean(axis=2).mean(axis=1)
df["left_right"] = images[:, :, :4].sum(axis=(1, 2)) - images[:, :, 4:].sum(axis=(1, 2))
feature_cols = [c for c in df.columns if c != "label"]
len(feature_cols)
""",
    """
rng = np.random.default_rng(0)
noisy = np.repeat(X, 40, axis=0) + rng.normal(0, 0.5, size=(len(X) * 40, X.shape[1]))
noisy_labels = np.repeat(y, 40)
noisy.nbytes / 1e6
""",
    """
X_train, X_test, y_train, y_test = train_test_split(
    df[feature_cols], df["label"], test_size=0.25, random_state=0, stratify=df["label"]
)
X_train.shape
""",
    """
grid = GridSearchCV(
    make_pipeline(StandardScaler(), SVC()),
    {"svc__C": [0.3, 1, 3, 10], "svc__gamma": ["scale", 0.01, 0.001]},
    cv=3,
)
grid.fit(X_train, y_train)
grid.best_params_, round(grid.best_score_, 4)
""",
    """
models = {
    "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)),
    "forest": RandomForestClassifier(n_estimators=150, random_state=0),
}
for name, model in models.items():
    model.fit(X_train, y_train)
scores = {name: accuracy_score(y_test, m.predict(X_test)) for name, m in models.items()}
scores
""",
    """
best = models["forest"]
cm = confusion_matrix(y_test, grid.predict(X_test))
errors = df.loc[X_test.index[grid.predict(X_test) != y_test]]
len(errors), cm.trace()
""",
]

TAB_IRIS_WINE = [
    """
import numpy as np
import pandas as pd
from sklearn.datasets import load_iris, load_wine
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
""",
    """
iris = load_iris(as_frame=True)
wine = load_wine(as_frame=True)
iris_df = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
wine_df = wine.frame
iris_df.head()
""",
    """
iris_df["species"] = iris_df["target"].map(dict(enumerate(iris.target_names)))
iris_df["petal_area"] = iris_df["petal_length"] * iris_df["petal_width"]
iris_df["sepal_ratio"] = iris_df["sepal_length"] / iris_df["sepal_width"]
summary = iris_df.groupby("species").agg(["mean", "std"])
summary.shape
""",
    """
wine_df = wine_df.assign(
    phenol_ratio=wine_df["total_phenols"] / wine_df["flavanoids"],
    alcohol_bin=pd.cut(wine_df["alcohol"], bins=4, labels=False),
)
wine_df.isna().sum().sum()
""",
    """
rng = np.random.default_rng(7)
boot_index = rng.integers(0, len(wine_df), size=60_000)
wine_boot = wine_df.iloc[boot_index].reset_index(drop=True)
wine_boot.shape
""",
    """
features = [c for c in wine_df.columns if c not in ("target", "alcohol_bin")]
Xw, yw = wine_df[features].to_numpy(), wine_df["target"].to_numpy()
Xi, yi = iris_df[["sepal_length", "sepal_width", "petal_length", "petal_width"]], iris_df["target"]
""",
    """
knn_grid = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": list(range(1, 30, 2))}, cv=5)
knn_grid.fit(Xi, yi)
knn_grid.best_params_
""",
    """
cv_scores = {}
for name, model in [("tree", DecisionTreeClassifier(random_state=0)), ("nb", GaussianNB())]:
    cv_scores[name] = cross_val_score(model, Xw, yw, cv=5).mean()
cv_scores
""",
    """
final_model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(Xw, yw)
importances = pd.Series(final_model.feature_importances_, index=features).sort_values()
top3 = importances.tail(3)
top3
""",
]

TAB_BREAST_CANCER = [
    """
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
""",
    """
data = load_breast_cancer(as_frame=True)
raw = data.frame.copy()
rng = np.random.default_rng(1)
mask = rng.random(raw.shape) < 0.03
mask[:, -1] = False
raw = raw.mask(mask)
raw.isna().sum().sum()
""",
    """
imputer = SimpleImputer(strategy="median")
clean = pd.DataFrame(imputer.fit_transform(raw), columns=raw.columns)
clean["target"] = clean["target"].astype(int)
clean.describe().loc[["mean", "std"]].T.head()
""",
    """
big = clean.sample(n=120_000, replace=True, random_state=3).reset_index(drop=True)
big.iloc[:, :-1] *= rng.normal(1.0, 0.01, size=(len(big), big.shape[1] - 1))
big.memory_usage().sum() / 1e6
""",
    """
scaler = StandardScaler().fit(big.iloc[:, :10])
poly = PolynomialFeatures(degree=2, include_bias=False)
poly_features = poly.fit_transform(scaler.transform(big.iloc[:, :10]))
poly_features.shape, poly_features.nbytes / 1e6
""",
    """
X_train, X_test, y_train, y_test = train_test_split(
    clean.drop(columns="target"), clean["target"], test_size=0.3, random_state=0
)
""",
    """
gb_grid = GridSearchCV(
    GradientBoostingClassifier(random_state=0),
    {"n_estimators": [50, 100], "max_depth": [2, 3]},
    cv=3,
)
gb_grid.fit(X_train, y_train)
gb_grid.best_params_
""",
    """
logit = LogisticRegression(max_iter=5000).fit(StandardScaler().fit_transform(X_train), y_train)
results = pd.DataFrame(gb_grid.cv_results_)[["mean_test_score", "rank_test_score"]]
results.sort_values("mean_test_score").tail(2)
""",
]
