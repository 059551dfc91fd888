-- soak: time-based work (the relays tick too)
SELECT waitlist.tick();
