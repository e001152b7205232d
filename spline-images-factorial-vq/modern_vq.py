"""Modern discrete-code baselines on the spline images, scored in the same exact bits.

Four methods, each hand-written in numpy with its gradient, each at the factorial VQ's
code budget (4 quantisers x 6 codes; VQ-DRAW: 4 stages x 6 options):

* ``vqvae``  -- van den Oord, Vinyals & Kavukcuoglu (2017), "Neural Discrete
  Representation Learning", arXiv:1711.00937: nearest-codeword encoder, straight-through
  gradient, codebook loss ||sg(z_e) - e||^2 and commitment loss beta ||z_e - sg(e)||^2.
* ``gumbel`` -- Jang, Gu & Poole (2017), "Categorical Reparameterization with
  Gumbel-Softmax", arXiv:1611.01144 (also Maddison et al. 2017; Sonderby et al. 2017):
  posterior softmax(-||z_e - e_k||^2), relaxed sample softmax((logits + g) / tau),
  KL to a uniform prior, temperature annealed tau_start -> tau_end.
* ``gmvq``   -- Yan, Wu, Shah & Liu (2024), "Gaussian Mixture Vector Quantization with
  Aggregated Categorical Posterior", arXiv:2410.10180: codewords are means of an
  isotropic Gaussian mixture, posterior logits -softplus(rho) ||z_e - mu_k||^2, a latent
  alignment term E_q[-log N(z_e; mu_c, sigma_z^2 I)], and the ALBO entropy term
  KL(qbar || uniform) on the minibatch-aggregated posterior qbar instead of per example.
* ``vqdraw`` -- Nichol (2020), "VQ-DRAW: A Sequential Discrete VAE", arXiv:2003.01599:
  a refinement network sees the current canvas and the stage index and proposes K
  edits; the encoder greedily keeps the best; loss = chosen error + alpha * mean error.

Every model is scored as a code by spline_images_factorial_vq.score_discrete: the exact
expected reconstruction cost under its (possibly one-hot) posterior, found by decoding all
6^4 = 1296 joint codes once, plus KL to the uniform prior it assumes, in bits per image.
"""

from __future__ import annotations

import math

import numpy as np
import spline_images_factorial_vq as s

LN2 = math.log(2.0)


# ------------------------------------------------------------------------ shared pieces


def mlp_forward(W1, b1, W2, b2, X):
    """One tanh hidden layer. X (N, n_in) -> hidden h (N, H), output (N, n_out)."""
    h = np.tanh(X @ W1 + b1)
    return h, h @ W2 + b2


def mlp_backward(W1, W2, X, h, g_out):
    """Gradients of an mlp_forward given dL/d(output) (N, n_out); also returns dL/dX."""
    g_h = (g_out @ W2.T) * (1.0 - h**2)
    return (X.T @ g_h, g_h.sum(axis=0), h.T @ g_out, g_out.sum(axis=0)), g_h @ W1.T


def init_mlp(rng, prefix, n_in, n_hidden, n_out, out_scale=1.0):
    return {
        f"{prefix}_W1": rng.normal(0.0, 1.0 / math.sqrt(n_in), size=(n_in, n_hidden)),
        f"{prefix}_b1": np.zeros(n_hidden),
        f"{prefix}_W2": rng.normal(0.0, out_scale / math.sqrt(n_hidden), size=(n_hidden, n_out)),
        f"{prefix}_b2": np.zeros(n_out),
    }


def put_mlp_grads(grads, prefix, g):
    for name, v in zip(["W1", "b1", "W2", "b2"], g, strict=True):
        grads[f"{prefix}_{name}"] = v


def encode_latent(params, X, F, d):
    """Encoder MLP -> latents z_e (N, F, d) plus the hidden layer for backprop."""
    h, z = mlp_forward(params["enc_W1"], params["enc_b1"], params["enc_W2"], params["enc_b2"], X)
    return h, z.reshape(len(X), F, d)


def decode_latent(params, Z):
    """Decoder MLP: latents (N, F*d) -> images (N, 96). Returns hidden h and output."""
    return mlp_forward(params["dec_W1"], params["dec_b1"], params["dec_W2"], params["dec_b2"], Z)


def sq_dist(z, E):
    """||z_nf - E_fk||^2 for z (N, F, d), E (F, K, d) -> (N, F, K)."""
    return (
        (z**2).sum(2)[:, :, None]
        - 2.0 * np.matmul(z.transpose(1, 0, 2), E.transpose(0, 2, 1)).transpose(1, 0, 2)
        + (E**2).sum(2)[None]
    )


def sq_dist_backward(g_D, z, E):
    """Given dL/dD (N, F, K) for D = sq_dist(z, E): dL/dz (N, F, d) and dL/dE (F, K, d)."""
    g_z = 2.0 * (
        z * g_D.sum(2)[:, :, None] - np.matmul(g_D.transpose(1, 0, 2), E).transpose(1, 0, 2)
    )
    g_E = -2.0 * (
        np.matmul(g_D.transpose(1, 2, 0), z.transpose(1, 0, 2)) - g_D.sum(0)[:, :, None] * E
    )
    return g_z, g_E


def softmax_backward(p, g_p, axis=-1):
    """dL/d(logits) of p = softmax(logits) given dL/dp."""
    return p * (g_p - (p * g_p).sum(axis=axis, keepdims=True))


def all_codes(F, K):
    """(K**F, F) integer array of every joint code, factor 0 most significant."""
    return np.stack(np.unravel_index(np.arange(K**F), (K,) * F), axis=1)


def one_hot(k, K):
    """(N, F) int codes -> (N, F, K) one-hot float64."""
    return (k[..., None] == np.arange(K)).astype(np.float64)


def gumbel_noise(rng, shape):
    """Standard Gumbel(0, 1) samples."""
    u = rng.random(shape)
    return -np.log(-np.log(np.clip(u, 1e-12, 1.0 - 1e-12)))


# ------------------------------------------------------------------------ VQ-VAE


def init_vqvae(rng, X, F, K, d, H):
    p = {**init_mlp(rng, "enc", X.shape[1], H, F * d), **init_mlp(rng, "dec", F * d, H, X.shape[1])}
    _, z = encode_latent(p, X, F, d)
    idx = rng.choice(len(X), size=K, replace=False)
    p["codebook"] = z[idx].transpose(1, 0, 2).copy() + rng.normal(0, 0.01, (F, K, d))
    return p


def vqvae_loss(params, X, a, beta_commit, frozen=None):
    """VQ-VAE loss (bits-scaled reconstruction + codebook + commitment) and its gradient.

    L = a * mean_n ||x - dec(z_q)||^2 + mean_n sum_f ||sg(z_e) - e_k||^2
        + beta * mean_n sum_f ||z_e - sg(e_k)||^2,  a = 1 / (2 sigma^2 ln 2).

    The gradient is the straight-through one: dL/dz_q is copied to z_e. It is the exact
    gradient of the surrogate obtained by freezing the stop-gradient values: pass
    frozen = (k, ze0, eq0) to evaluate that surrogate (used by the FD test); with
    frozen=None they are taken from the current parameters.

    Args: params (enc_*, dec_*, codebook (F, K, d)); X (N, D); a (bits per unit SSE);
    beta_commit >= 0. Returns loss (float), grads (params' shapes), k (N, F) codes.
    """
    F, K, d = params["codebook"].shape
    N = len(X)
    E = params["codebook"]
    h_e, z_e = encode_latent(params, X, F, d)
    if frozen is None:
        k = sq_dist(z_e, E).argmin(axis=2)
        ze0, eq0 = z_e.copy(), E[np.arange(F)[None], k]
    else:
        k, ze0, eq0 = frozen
    z_q = z_e + (eq0 - ze0)  # forward value e_k, gradient straight through to z_e
    h_d, rec = decode_latent(params, z_q.reshape(N, F * d))
    e = X - rec
    e_sel = E[np.arange(F)[None], k]
    loss = a * (e**2).sum() / N + ((ze0 - e_sel) ** 2).sum() / N
    loss += beta_commit * ((z_e - eq0) ** 2).sum() / N
    grads = {}
    g_dec, g_zq = mlp_backward(
        params["dec_W1"], params["dec_W2"], z_q.reshape(N, F * d), h_d, -2.0 * a * e / N
    )
    put_mlp_grads(grads, "dec", g_dec)
    g_ze = g_zq.reshape(N, F, d) + 2.0 * beta_commit * (z_e - eq0) / N
    g_E = np.zeros_like(E)
    for f in range(F):
        np.add.at(g_E[f], k[:, f], 2.0 * (e_sel[:, f] - ze0[:, f]) / N)
    grads["codebook"] = g_E
    g_enc, _ = mlp_backward(params["enc_W1"], params["enc_W2"], X, h_e, g_ze.reshape(N, F * d))
    put_mlp_grads(grads, "enc", g_enc)
    return float(loss), grads, k


# ------------------------------------------------------------------------ Gumbel-softmax VQ


def init_gumbel(rng, X, F, K, d, H):
    p = init_vqvae(rng, X, F, K, d, H)
    return p


def gumbel_loss(params, X, a, beta, tau, G):
    """Gumbel-softmax VQ objective with fixed Gumbel noise G (N, F, K), and its gradient.

    logits = -||z_e - e_k||^2; q = softmax(logits); y = softmax((logits + G) / tau);
    z = y @ E; L = a * mean_n ||x - dec(z)||^2 + beta * mean_n KL(q || uniform) / ln 2.
    With G fixed this is a deterministic function: the relaxation that is differentiated.

    Returns loss (float, bits), grads (params' shapes).
    """
    F, K, d = params["codebook"].shape
    N = len(X)
    E = params["codebook"]
    h_e, z_e = encode_latent(params, X, F, d)
    logits = -sq_dist(z_e, E)
    log_q = s.log_softmax(logits, axis=2)
    q = np.exp(log_q)
    y = np.exp(s.log_softmax((logits + G) / tau, axis=2))
    z = np.matmul(y.transpose(1, 0, 2), E).transpose(1, 0, 2)  # (N, F, d)
    h_d, rec = decode_latent(params, z.reshape(N, F * d))
    e = X - rec
    kl = (q * (log_q + math.log(K))).sum() / (N * LN2)
    loss = a * (e**2).sum() / N + beta * kl
    grads = {}
    g_dec, g_z = mlp_backward(
        params["dec_W1"], params["dec_W2"], z.reshape(N, F * d), h_d, -2.0 * a * e / N
    )
    put_mlp_grads(grads, "dec", g_dec)
    g_z = g_z.reshape(N, F, d)
    g_y = np.matmul(g_z.transpose(1, 0, 2), E.transpose(0, 2, 1)).transpose(1, 0, 2)
    g_E = np.matmul(y.transpose(1, 2, 0), g_z.transpose(1, 0, 2))
    g_logits = softmax_backward(y, g_y, axis=2) / tau
    g_logits += softmax_backward(q, beta * (log_q + math.log(K)) / (N * LN2), axis=2)
    g_ze, g_E2 = sq_dist_backward(-g_logits, z_e, E)
    grads["codebook"] = g_E + g_E2
    g_enc, _ = mlp_backward(params["enc_W1"], params["enc_W2"], X, h_e, g_ze.reshape(N, F * d))
    put_mlp_grads(grads, "enc", g_enc)
    return float(loss), grads


# ------------------------------------------------------------------------ GM-VQ with ALBO


def init_gmvq(rng, X, F, K, d, H):
    p = init_vqvae(rng, X, F, K, d, H)
    p["rho"] = np.zeros(F)  # precision softplus(rho) = 1 / (2 sigma_z^2)
    return p


def softplus(x):
    return np.logaddexp(0.0, x)


def aggregated_kl_bits(q):
    """ALBO entropy term: sum_f KL(qbar_f || uniform) in bits, qbar = mean over the batch.

    Args: q (N, F, K) per-example posteriors. Returns float bits.
    """
    K = q.shape[2]
    qbar = q.mean(axis=0)
    return float((qbar * (np.log(np.maximum(qbar, 1e-300)) + math.log(K))).sum() / LN2)


def gmvq_posterior_logits(params, z_e):
    sp = softplus(params["rho"])
    D = sq_dist(z_e, params["codebook"])
    return -sp[None, :, None] * D, D, sp


def gmvq_loss(params, X, a, beta, tau, G):
    """GM-VQ objective with the aggregated-posterior bound (ALBO), fixed noise G.

    logits = -softplus(rho_f) ||z_e - mu_fk||^2, q = softmax(logits),
    y = softmax((logits + G) / tau), z = y @ mu,
    L = a * mean ||x - dec(z)||^2                                  (reconstruction, bits)
      + mean_n sum_f [sum_k q_fk s_f D_fk - (d/2) ln s_f] / ln 2   (latent alignment,
        -log N(z_e; mu_c, sigma_z^2 I) up to a constant, s = softplus(rho) = 1/(2 sigma_z^2))
      + beta * sum_f KL(qbar_f || uniform)                          (ALBO entropy term)

    Returns loss (float), grads (params' shapes).
    """
    F, K, d = params["codebook"].shape
    N = len(X)
    M = params["codebook"]
    h_e, z_e = encode_latent(params, X, F, d)
    logits, D, sp = gmvq_posterior_logits(params, z_e)
    log_q = s.log_softmax(logits, axis=2)
    q = np.exp(log_q)
    y = np.exp(s.log_softmax((logits + G) / tau, axis=2))
    z = np.matmul(y.transpose(1, 0, 2), M).transpose(1, 0, 2)
    h_d, rec = decode_latent(params, z.reshape(N, F * d))
    e = X - rec
    align = ((q * D).sum(axis=(0, 2)) * sp / N - 0.5 * d * np.log(sp)).sum() / LN2
    albo = aggregated_kl_bits(q)
    loss = a * (e**2).sum() / N + align + beta * albo
    grads = {}
    g_dec, g_z = mlp_backward(
        params["dec_W1"], params["dec_W2"], z.reshape(N, F * d), h_d, -2.0 * a * e / N
    )
    put_mlp_grads(grads, "dec", g_dec)
    g_z = g_z.reshape(N, F, d)
    g_y = np.matmul(g_z.transpose(1, 0, 2), M.transpose(0, 2, 1)).transpose(1, 0, 2)
    g_M = np.matmul(y.transpose(1, 2, 0), g_z.transpose(1, 0, 2))
    g_logits = softmax_backward(y, g_y, axis=2) / tau
    qbar = q.mean(axis=0)
    g_q = D * sp[None, :, None] / (N * LN2)
    g_q = g_q + beta * (np.log(np.maximum(qbar, 1e-300)) + 1.0)[None] / (N * LN2)
    g_logits += softmax_backward(q, g_q, axis=2)
    g_D = -sp[None, :, None] * g_logits + q * sp[None, :, None] / (N * LN2)
    g_sp = (
        (-(D * g_logits).sum(axis=(0, 2)))
        + (q * D).sum(axis=(0, 2)) / (N * LN2)
        - 0.5 * d / (sp * LN2)
    )
    grads["rho"] = g_sp / (1.0 + np.exp(-params["rho"]))
    g_ze, g_M2 = sq_dist_backward(g_D, z_e, M)
    grads["codebook"] = g_M + g_M2
    g_enc, _ = mlp_backward(params["enc_W1"], params["enc_W2"], X, h_e, g_ze.reshape(N, F * d))
    put_mlp_grads(grads, "enc", g_enc)
    return float(loss), grads


# ------------------------------------------------------------------------ VQ-DRAW


def init_vqdraw(rng, D, F, K, H):
    return init_mlp(rng, "ref", D + F, H, K * D, out_scale=0.5)


def vqdraw_stage(params, canvas, stage, F, K):
    """Refinement network at one stage: canvas (N, D) -> K options (N, K, D) (+ cache)."""
    N, D = canvas.shape
    inp = np.concatenate([canvas, np.tile(np.eye(F)[stage], (N, 1))], axis=1)
    h, out = mlp_forward(
        params["ref_W1"], params["ref_b1"], params["ref_W2"], params["ref_b2"], inp
    )
    return canvas[:, None, :] + out.reshape(N, K, D), (inp, h)


def vqdraw_encode(params, X, F, K):
    """Greedy encoding: at each stage keep the option closest to x.

    Returns codes (N, F) int and the final reconstruction (N, D)."""
    canvas = np.zeros_like(X)
    codes = np.zeros((len(X), F), dtype=np.int64)
    for st in range(F):
        opts, _ = vqdraw_stage(params, canvas, st, F, K)
        codes[:, st] = ((X[:, None, :] - opts) ** 2).sum(2).argmin(axis=1)
        canvas = opts[np.arange(len(X)), codes[:, st]]
    return codes, canvas


def vqdraw_decode(params, codes, D, K, stages=None):
    """Replay codes (N, F) through the refinement network -> canvas (N, D).

    If stages is a list, the canvas after each stage is appended to it."""
    N, F = codes.shape
    canvas = np.zeros((N, D))
    for st in range(F):
        opts, _ = vqdraw_stage(params, canvas, st, F, K)
        canvas = opts[np.arange(N), codes[:, st]]
        if stages is not None:
            stages.append(canvas)
    return canvas


def vqdraw_loss(params, X, a, alpha, F, K, codes=None):
    """VQ-DRAW loss and its gradient (backpropagated through all stages).

    L = sum_stages mean_n a * (||x - option_chosen||^2 + alpha * mean_k ||x - option_k||^2)

    The choices are argmins (piecewise constant); pass codes (N, F) to freeze them (FD
    test); by default they are the greedy choices at the current parameters.
    Returns loss (float bits), grads (params' shapes), codes (N, F).
    """
    N, D = X.shape
    canvas = np.zeros_like(X)
    caches, choice = [], np.zeros((N, F), dtype=np.int64) if codes is None else codes
    loss = 0.0
    for st in range(F):
        opts, cache = vqdraw_stage(params, canvas, st, F, K)
        err = ((X[:, None, :] - opts) ** 2).sum(2)  # (N, K)
        if codes is None:
            choice[:, st] = err.argmin(axis=1)
        k = choice[:, st]
        loss += a * (err[np.arange(N), k].sum() + alpha * err.mean(axis=1).sum()) / N
        caches.append((opts, cache, k))
        canvas = opts[np.arange(N), k]
    grads = {n: np.zeros_like(v) for n, v in params.items()}
    g_next = np.zeros((N, D))  # dL/d(canvas after this stage) from later stages
    for st in reversed(range(F)):
        opts, (inp, h), k = caches[st]
        w = one_hot(k, K) + alpha / K  # (N, K)
        g_opts = -2.0 * a * (X[:, None, :] - opts) * w[:, :, None] / N
        g_opts[np.arange(N), k] += g_next
        g_canvas = g_opts.sum(axis=1)
        g, g_inp = mlp_backward(
            params["ref_W1"], params["ref_W2"], inp, h, g_opts.reshape(N, K * D)
        )
        for name, v in zip(["W1", "b1", "W2", "b2"], g, strict=True):
            grads[f"ref_{name}"] += v
        g_next = g_canvas + g_inp[:, :D]
    return float(loss), grads, choice


# ------------------------------------------------------------------------ estimator check


def gumbel_additive_loss(params, X, a, beta, tau, G):
    """The factorial VQ's own model trained with the Gumbel-softmax relaxation (ablation).

    Same encoder and additive codebook as spline_images_factorial_vq (init_svq params), but
    the reconstruction is sum_f y_f @ C_f with y = softmax((logits + G) / tau) instead of
    the exact expectation, and the KL is to a uniform prior, as in ``gumbel``:
    L = a * mean_n ||x - sum_f y_f C_f||^2 + beta * mean_n KL(q || uniform) / ln 2.
    Returns loss (float), grads (params' shapes; prior_logits gets zero).
    """
    N, D = X.shape
    C = params["codebook"]
    F, K = params["prior_logits"].shape
    h, q, log_q = s.svq_posterior(params, X)
    logits = (h @ params["W2"] + params["b2"]).reshape(N, F, K)
    y = np.exp(s.log_softmax((logits + G) / tau, axis=2))
    rec = y.reshape(N, F * K) @ C.reshape(F * K, D)
    e = X - rec
    kl = (q * (log_q + math.log(K))).sum() / (N * LN2)
    loss = a * (e**2).sum() / N + beta * kl
    g_rec = -2.0 * a * e / N
    grads = {"codebook": (y.reshape(N, F * K).T @ g_rec).reshape(F, K, D)}
    g_y = (g_rec @ C.reshape(F * K, D).T).reshape(N, F, K)
    g_logits = softmax_backward(y, g_y, axis=2) / tau
    g_logits += softmax_backward(q, beta * (log_q + math.log(K)) / (N * LN2), axis=2)
    g_logits = g_logits.reshape(N, F * K)
    grads["W2"] = h.T @ g_logits
    grads["b2"] = g_logits.sum(axis=0)
    g_h = (g_logits @ params["W2"].T) * (1.0 - h**2)
    grads["W1"] = X.T @ g_h
    grads["b1"] = g_h.sum(axis=0)
    grads["prior_logits"] = np.zeros((F, K))
    return float(loss), grads


def fit_gumbel_additive(X, cfg, rngs, log=None):
    """Train gumbel_additive_loss with the gumbel schedule; returns a FittedSVQ (uniform prior)."""
    F, K = cfg["n_factors"], cfg["n_codes"]
    c = dict(cfg, prior="uniform")
    params = s.init_svq(rngs["init"], X.shape[1], F, K, cfg["n_hidden"], X_init=X)
    opt = s.Adam(params, cfg["lr"])
    n_steps, step = cfg["steps"], 0
    while step < n_steps:
        for idx in s.minibatches(rngs["train"], len(X), cfg["batch_size"]):
            if step >= n_steps:
                break
            sig = s.sigma_at(step, n_steps, cfg)
            a = 1.0 / (2.0 * sig**2 * LN2)
            beta = s.kl_weight(step, n_steps, cfg["beta_start"], cfg["anneal_frac"])
            G = gumbel_noise(rngs["train"], (len(idx), F, K))
            loss, grads = gumbel_additive_loss(
                params, X[idx], a, beta, tau_at(step, n_steps, cfg), G
            )
            opt.step(params, grads, s.lr_at(step, n_steps, cfg["lr"]))
            step += 1
            if log is not None and (step % cfg["log_every"] == 0 or step == n_steps):
                log(step, s.FittedSVQ("factorial4x6_gumbeltrained", [params], c), loss, beta)
        s.check_finite(step, {"training loss": loss, **params})
    return s.FittedSVQ("factorial4x6_gumbeltrained", [params], c)


# ------------------------------------------------------------------------ fitted models


class FittedModern:
    """A trained modern model seen as a discrete code: posterior, table, prior, score."""

    def __init__(self, name, params, cfg):
        self.name, self.params, self.cfg = name, params, cfg
        self.F, self.K = cfg["n_factors"], cfg["n_codes"]

    def posterior(self, X):
        """q(k|x) (N, F, K): one-hot for vqvae/vqdraw, softmax for gumbel/gmvq."""
        F, K, d = self.F, self.K, self.cfg["latent_dim"]
        if self.name == "vqdraw":
            codes, _ = vqdraw_encode(self.params, X, F, K)
            return one_hot(codes, K)
        _, z_e = encode_latent(self.params, X, F, d)
        if self.name == "vqvae":
            return one_hot(sq_dist(z_e, self.params["codebook"]).argmin(axis=2), K)
        if self.name == "gumbel":
            logits = -sq_dist(z_e, self.params["codebook"])
        else:
            logits, _, _ = gmvq_posterior_logits(self.params, z_e)
        return np.exp(s.log_softmax(logits, axis=2))

    def table(self):
        """Reconstruction of every joint code (K**F, D): decoder applied once per code."""
        codes = all_codes(self.F, self.K)
        if self.name == "vqdraw":
            return vqdraw_decode(self.params, codes, s.IMG_H * s.IMG_W, self.K)
        E = self.params["codebook"]
        z = E[np.arange(self.F)[None], codes]  # (K**F, F, d)
        return decode_latent(self.params, z.reshape(len(codes), -1))[1]

    def log_prior(self):
        return np.full((self.F, self.K), -math.log(self.K))

    def score(self, X, rng, n_samples=None):
        n = self.cfg["n_samples"] if n_samples is None else n_samples
        c = self.cfg
        return s.score_discrete(
            X,
            self.posterior(X),
            self.log_prior(),
            c["sigma_x"],
            c["quant"],
            rng,
            table=self.table(),
            n_samples=n,
        )

    def reconstruct(self, X):
        """Posterior-mean reconstruction (N, D) (the decoded code for one-hot posteriors)."""
        return s.joint_posterior(self.posterior(X)) @ self.table()


def tau_at(step, n_steps, cfg):
    """Gumbel temperature: exponential decay tau_start -> tau_end over training."""
    return cfg["tau_start"] * (cfg["tau_end"] / cfg["tau_start"]) ** (step / max(1, n_steps - 1))


def fit_modern(name, X, cfg, rngs, log=None):
    """Train one of vqvae, gumbel, gmvq, vqdraw on X (N, 96) with Adam; returns FittedModern.

    Same schedule as the classic models: cfg['steps'] Adam steps on minibatches, KL/ALBO
    weight ramp and pixel-noise anneal (sigma_start -> sigma_x) in the bits scale a.
    """
    F, K, d, H = cfg["n_factors"], cfg["n_codes"], cfg["latent_dim"], cfg["n_hidden"]
    rng_i, rng_t = rngs["init"], rngs["train"]
    init = {"vqvae": init_vqvae, "gumbel": init_gumbel, "gmvq": init_gmvq}
    if name == "vqdraw":
        params = init_vqdraw(rng_i, X.shape[1], F, K, H)
    else:
        params = init[name](rng_i, X, F, K, d, H)
    opt = s.Adam(params, cfg["lr"])
    n_steps, step = cfg["steps"], 0
    while step < n_steps:
        for idx in s.minibatches(rng_t, len(X), cfg["batch_size"]):
            if step >= n_steps:
                break
            xb = X[idx]
            sig = s.sigma_at(step, n_steps, cfg)
            a = 1.0 / (2.0 * sig**2 * LN2)
            beta = s.kl_weight(step, n_steps, cfg["beta_start"], cfg["anneal_frac"])
            if name == "vqvae":
                loss, grads, _ = vqvae_loss(params, xb, a, cfg["beta_commit"])
            elif name == "vqdraw":
                loss, grads, _ = vqdraw_loss(params, xb, a, cfg["alpha"], F, K)
            else:
                G = gumbel_noise(rng_t, (len(xb), F, K))
                fn = gumbel_loss if name == "gumbel" else gmvq_loss
                loss, grads = fn(params, xb, a, beta, tau_at(step, n_steps, cfg), G)
            opt.step(params, grads, s.lr_at(step, n_steps, cfg["lr"]))
            step += 1
            if log is not None and (step % cfg["log_every"] == 0 or step == n_steps):
                log(step, FittedModern(name, params, cfg), loss, beta)
        s.check_finite(step, {f"{name} training loss": loss, **params})
    return FittedModern(name, params, cfg)
