"""The ValidationGate component: blesses the student for the Pusher, or not, with reasons."""
