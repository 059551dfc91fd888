-- benchmark 12, ours: a product page view (one of 1,000 SKUs, one of 100,000 visitors)
\set g random(0, 99999)
SELECT waitlist.record_view('sku-' || (:g % 1000 + 1), 'visitor-' || :g, 'notify_me');
