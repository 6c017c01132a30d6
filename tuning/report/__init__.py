"""What a run found, for people: leaderboards, the best card, a target's history."""
