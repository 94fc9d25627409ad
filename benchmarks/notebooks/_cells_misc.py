"""Cell sources of the text, exploratory, feature-engineering and trap-laden notebooks."""

from __future__ import annotations

TEXT_BOW = [
    """
import collections
import re
import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.naive_bayes import MultinomialNB
""",
    """
rng = np.random.default_rng(42)
syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "xi"]
vocab = sorted({"".join(rng.choice(syllables, size=rng.integers(2, 5))) for _ in range(30_000)})
weights = 1 / np.arange(1, len(vocab) + 1) ** 1.1
weights /= weights.sum()
len(vocab)
""",
    """
n_docs, doc_len = 60_000, 60
topics = rng.integers(0, 4, n_docs)
word_ids = rng.choice(len(vocab), size=(n_docs, doc_len), p=weights)
word_ids[topics == 1, :10] = rng.integers(0, 50, size=((topics == 1).sum(), 10))
tokens = [[vocab[i] for i in row] for row in word_ids]
texts = [" ".join(doc) for doc in tokens]
texts[0][:60]
""",
    """
counts = collections.Counter()
for doc in tokens:
    counts.update(doc)
doc_freq = collections.Counter(w for doc in tokens for w in set(doc))
counts.most_common(3)
""",
    """
index = collections.defaultdict(list)
for doc_id, doc in enumerate(tokens[:20_000]):
    for word in set(doc):
        index[word].append(doc_id)
bigrams = collections.Counter(zip(tokens[0], tokens[0][1:]))
len(index)
""",
    """
vectorizer = CountVectorizer(token_pattern=r"[a-z]+")
bow = vectorizer.fit_transform(texts)
tfidf = TfidfTransformer().fit_transform(bow)
bow.shape, bow.nnz
""",
    """
clf = MultinomialNB().fit(bow[:50_000], topics[:50_000])
accuracy = (clf.predict(bow[50_000:]) == topics[50_000:]).mean()
clean_texts = [re.sub(r"(ka|lo)+", "", t) for t in texts[:5_000]]
accuracy
""",
]

EXPLORE_PLOTS = [
    """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
""",
    """
rng = np.random.default_rng(8)
n = 150_000
cities = ["Lyon", "Oslo", "Lima", "Pune", "Kobe", "Cork"]
orders = pd.DataFrame({
    "city": rng.choice(cities, n),
    "amount": rng.lognormal(3, 0.7, n).round(2),
    "items": rng.integers(1, 9, n),
    "day": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
})
orders.head()
""",
    "n_orders = len(orders)\ntotal = orders['amount'].sum()\nmean_amount = orders['amount'].mean()",
    "median_amount = orders['amount'].median()\nmax_items = int(orders['items'].max())",
    "by_city = orders.groupby('city')['amount'].agg(['count', 'mean', 'sum'])\nby_city",
    "busiest = by_city['count'].idxmax()\nquietest = by_city['count'].idxmin()\nbusiest, quietest",
    "monthly = orders.set_index('day').resample('MS')['amount'].sum()\nmonthly.tail(3)",
    """
plt.figure(figsize=(6, 4))
plt.hist(orders["amount"], bins=80)
plt.title("order amounts")
plt.gcf().canvas.draw()
plt.close("all")
""",
    """
by_city["sum"].plot.bar()
plt.gcf().canvas.draw()
plt.close("all")
""",
    """
monthly.plot()
plt.ylabel("revenue")
plt.gcf().canvas.draw()
plt.close("all")
""",
    """
sample_ids = np.random.choice(n_orders, 500, replace=False)
sample = orders.iloc[sample_ids]
share_big = (orders['amount'] > 100).mean()
""",
    "weekday = orders['day'].dt.day_name()\nweekday_counts = weekday.value_counts()",
    "plt.scatter(sample['items'], sample['amount'], s=4)\nplt.gcf().canvas.draw()\n"
    "plt.close('all')",
    "corr_items_amount = orders[['items', 'amount']].corr().iloc[0, 1]\n"
    "round(corr_items_amount, 4)",
    "notes = {'busiest': busiest, 'share_big': float(share_big), 'cities': cities}\nnotes",
    "plt.close('all')\nlast_city = cities[-1]",
]

FEATURES_PCA = [
    """
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import pairwise_distances
""",
    """
digits = load_digits()
wine = load_wine()
rng = np.random.default_rng(9)
augmented = np.concatenate([digits.data + rng.normal(0, 1, digits.data.shape) for _ in range(4)])
augmented.shape
""",
    """
pca = PCA(n_components=20, random_state=0).fit(augmented)
projected = pca.transform(augmented)
explained = pca.explained_variance_ratio_.cumsum()
explained[-1]
""",
    """
distances = pairwise_distances(projected[:5000])
kernel = np.exp(-distances**2 / (2 * np.median(distances) ** 2))
distances.nbytes / 1e6
""",
    """
kmeans = KMeans(n_clusters=10, n_init=4, random_state=0).fit(projected)
cluster_sizes = np.bincount(kmeans.labels_)
cluster_sizes
""",
    """
embedding = TSNE(n_components=2, random_state=0, init="pca", perplexity=30).fit_transform(
    digits.data[:1200]
)
wine_pca = PCA(n_components=2).fit_transform(wine.data)
embedding.shape
""",
]

TRAPS = [
    """
import itertools
import sqlite3
import threading
import numpy as np
import numpy
np_alias = numpy
""",
    """
base = np.arange(20_000_000, dtype=np.float64)
evens = base[::2]
matrix = base.reshape(4000, 5000)
transposed = matrix.T
print(np.shares_memory(base, transposed))
""",
    """
shared = list(range(200_000))
same = shared
holder = {"data": shared, "also": [shared, evens]}
""",
    """
counter = itertools.count(10)
squares = (i * i for i in range(10**9))
first = [next(squares) for _ in range(5)]
""",
    """
lock = threading.Lock()
db = sqlite3.connect(":memory:")
db.execute("create table t (x integer)")
db.executemany("insert into t values (?)", [(i,) for i in range(1000)])
row_total = db.execute("select sum(x) from t").fetchone()[0]
""",
    """
scale = lambda v: v * 2.5
transform = {"scale": scale, "shift": lambda v: v + 1}
scaled = scale(evens[:1_000_000])
""",
    """
base[:10] = -1
holder["data"].append("tail")
len(shared), evens[:3]
""",
]
