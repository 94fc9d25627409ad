"""Cell sources of the homework notebook: many small cells, small functions and classes."""

from __future__ import annotations

HOMEWORK = [
    "import math\nimport numpy as np\nfrom dataclasses import dataclass",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "fibs = [fib(i) for i in range(60)]\nfibs[-1]",
    "def sieve(n):\n    is_p = np.ones(n + 1, dtype=bool)\n    is_p[:2] = False\n"
    "    for i in range(2, int(n**0.5) + 1):\n        if is_p[i]:\n"
    "            is_p[i * i :: i] = False\n"
    "    return is_p",
    "prime_mask = sieve(8_000_000)\nprimes = np.flatnonzero(prime_mask)\nlen(primes)",
    "twin = primes[1:][np.diff(primes) == 2]\nlen(twin)",
    "word = 'abracadabra'\nletters = sorted(set(word))\nfreq = {c: word.count(c) for c in letters}",
    "palindromes = [w for w in ['level', 'rotor', 'python', 'kayak'] if w == w[::-1]]",
    "@dataclass\nclass Point:\n    x: float\n    y: float\n\n"
    "    def norm(self):\n        return math.hypot(self.x, self.y)",
    "pts = [Point(i, i / 2) for i in range(1000)]\nlongest = max(pts, key=Point.norm)\nlongest",
    "origin = Point(0, 0)\nmidpoint = Point(sum(p.x for p in pts) / len(pts), 0)",
    "def make_counter():\n    count = 0\n    def bump():\n        nonlocal count\n"
    "        count += 1\n        return count\n    return bump",
    "tick = make_counter()\n[tick() for _ in range(3)]",
    "grades = {'ana': [15, 17, 12], 'bo': [9, 14, 11], 'cy': [18, 19, 16]}",
    "averages = {k: sum(v) / len(v) for k, v in grades.items()}\naverages",
    "grades['bo'].append(20)\nbest_student = max(averages, key=averages.get)",
    "A = np.array([[4.0, 1.0], [2.0, 3.0]])\neig = np.linalg.eigvals(A)\neig",
    "b = np.array([1.0, 2.0])\nx_sol = np.linalg.solve(A, b)\nnp.allclose(A @ x_sol, b)",
    "def bubble(xs):\n    xs = list(xs)\n    for i in range(len(xs)):\n"
    "        for j in range(len(xs) - 1 - i):\n            if xs[j] > xs[j + 1]:\n"
    "                xs[j], xs[j + 1] = xs[j + 1], xs[j]\n    return xs",
    "unsorted = [(i * 7919) % 1000 for i in range(800)]\nsorted_list = bubble(unsorted)",
    "assert sorted_list == sorted(unsorted)",
    "collatz = {}\nfor start in range(1, 30_000):\n    n, steps = start, 0\n    while n != 1:\n"
    "        n = n // 2 if n % 2 == 0 else 3 * n + 1\n        steps += 1\n"
    "    collatz[start] = steps",
    "longest_chain = max(collatz, key=collatz.get)\nlongest_chain, collatz[longest_chain]",
    "matrix = [[i * j for j in range(50)] for i in range(50)]\n"
    "trace = sum(matrix[i][i] for i in range(50))",
    "flat = [v for row in matrix for v in row]\nrow0 = matrix[0]",
    "row0.append(-1)\nlen(matrix[0])",
    "pascal = [[1]]\nfor _ in range(30):\n    prev = pascal[-1]\n"
    "    pascal.append([1] + [a + b for a, b in zip(prev, prev[1:])] + [1])",
    "binom_30 = pascal[30]\nsum(binom_30) == 2**30",
    "hist = np.histogram(np.sin(np.arange(100_000)), bins=20)\nhist[0][:5]",
    "areas = {r: math.pi * r**2 for r in range(1, 20)}\n"
    "big_areas = [a for a in areas.values() if a > 500]",
    "gcds = [math.gcd(a, 360) for a in range(1, 400)]\nmax(gcds)",
    "text = 'the quick brown fox jumps over the lazy dog ' * 50\n"
    "words = text.split()\nn_words = len(words)",
    "unique_words = set(words)\nvowels = sum(text.count(v) for v in 'aeiou')",
    "random_walk = np.cumsum(np.where(np.arange(50_000) % 3 == 0, 1, -1))\nrandom_walk[-1]",
    "answer = {'primes': len(primes), 'fib': fibs[-1], 'walk': int(random_walk[-1])}\nanswer",
]
