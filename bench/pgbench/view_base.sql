-- benchmark 12, baseline: the same view as a plain INSERT into a table of the same shape
\set g random(0, 99999)
INSERT INTO bench.page_view (sku, visitor, shown) VALUES ('sku-' || (:g % 1000 + 1), 'visitor-' || :g, 'notify_me');
