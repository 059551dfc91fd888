SELECT waitlist.tick();
