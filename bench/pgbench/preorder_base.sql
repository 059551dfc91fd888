-- benchmark 5, baseline: the bare capped counter on one hot row
UPDATE bench.hot SET n = n + 1 WHERE id = 1 AND n + 1 <= lim;
