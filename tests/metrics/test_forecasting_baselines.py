"""The forecasting baselines: naive, seasonal naive, direct AR(p) by least squares, errors by lead."""
import numpy as np
import pytest

from nabla.metrics.forecasting import (AutoRegressive, default_leads, errors_by_lead, naive_forecast,
                                       seasonal_naive_forecast, select_ar_order)


def _ar2(n=20000, phi=(0.6, -0.3), c=1.0, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    e = rng.normal(0, 1, n)
    for t in range(2, n):                      # the recurrence itself: a loop over time is inherent
        x[t] = c + phi[0] * x[t - 1] + phi[1] * x[t - 2] + e[t]
    return x[100:]                             # past the start-up


def _windows(x, window, horizon):
    origins = np.arange(window, len(x) - horizon + 1)
    return x[origins[:, None] + np.arange(-window, 0)], x[origins[:, None] + np.arange(horizon)]


def test_naive_repeats_the_last_value():
    x = np.array([[1.0, 2, 3], [4, 5, 6]])
    assert np.array_equal(naive_forecast(x, 4), [[3, 3, 3, 3], [6, 6, 6, 6]])


def test_seasonal_naive_reads_the_value_one_period_before_each_target():
    x = np.arange(10.0)[None]                  # x_{t-10} .. x_{t-1} = 0 .. 9
    assert np.array_equal(seasonal_naive_forecast(x, 3, 4), [[6, 7, 8]])   # x_t = x_{t-4} = 6, ...
    with pytest.raises(ValueError, match="horizon <= period <= window"):
        seasonal_naive_forecast(x, 5, 4)
    with pytest.raises(ValueError, match="horizon <= period <= window"):
        seasonal_naive_forecast(x, 2, 11)


def test_ar_recovers_a_known_ar2_process_at_each_lead():
    x = _ar2()
    inputs, targets = _windows(x, 5, 2)
    ar = AutoRegressive(2).fit(inputs, targets)
    phi1, phi2 = 0.6, -0.3
    # lead 1: the process itself; lead 2: x_{t+1} = phi1 (phi1 x_{t-1} + phi2 x_{t-2}) + phi2 x_{t-1} + ...
    assert np.allclose(ar.coef_[0], [phi1, phi2], atol=0.03)
    assert np.allclose(ar.coef_[1], [phi1 ** 2 + phi2, phi1 * phi2], atol=0.03)
    assert ar.intercept_[0] == pytest.approx(1.0, abs=0.05)
    assert ar.intercept_[1] == pytest.approx(1.0 * (1 + phi1), abs=0.08)
    pred = ar.predict(inputs[:3])
    expected = ar.intercept_ + inputs[:3, ::-1][:, :2] @ ar.coef_.T
    assert np.allclose(pred, expected)


def test_ar1_on_a_random_walk_recovers_the_naive_forecast():
    x = np.cumsum(np.random.default_rng(1).normal(0, 1, 20000))
    inputs, targets = _windows(x, 3, 3)
    ar = AutoRegressive(1).fit(inputs, targets)
    assert np.allclose(ar.coef_[:, 0], 1.0, atol=0.01)
    assert np.abs(ar.predict(inputs) - naive_forecast(inputs, 3)).mean() < 0.05 * np.abs(np.diff(x)).mean()


def test_order_selection_on_validation_prefers_the_true_order_to_too_few_lags():
    x = _ar2(8000)
    train, valid = _windows(x[:6000], 6, 1), _windows(x[6000:], 6, 1)
    ar, scores = select_ar_order(train, valid, range(1, 7))
    assert ar.order >= 2 and scores[2] < scores[1] and scores[ar.order] == min(scores.values())


def test_ar_refuses_windows_too_short_and_too_few():
    with pytest.raises(ValueError, match="order 3 needs windows of at least 3"):
        AutoRegressive(3).fit(np.zeros((10, 2)), np.zeros((10, 1)))
    with pytest.raises(ValueError, match="4 windows cannot fit 5 coefficients"):
        AutoRegressive(4).fit(np.zeros((4, 4)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="call fit first"):
        AutoRegressive(1).predict(np.zeros((1, 1)))


def test_errors_by_lead_leave_out_unknown_targets():
    f = np.array([[1.0, 2.0], [3.0, 5.0]])
    y = np.array([[2.0, np.nan], [1.0, 1.0]])
    e = errors_by_lead(f, y, [1, 2])
    assert e["rmse"] == pytest.approx([np.sqrt((1 + 4) / 2), 4.0]) and e["mae"] == pytest.approx([1.5, 4.0])
    assert e["count"] == [2, 1]
    with pytest.raises(ValueError, match="lead 3 is outside 1..2"):
        errors_by_lead(f, y, [3])


def test_default_leads_end_at_the_horizon():
    assert default_leads(12) == [1, 3, 6, 12] and default_leads(8) == [1, 3, 6, 8] and default_leads(1) == [1]
