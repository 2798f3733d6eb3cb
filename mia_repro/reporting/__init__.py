"""Reporting: tables (:mod:`.tables`) and figures (:mod:`.plots`) drawn from what the stages wrote, and
the seed-to-seed spread beside single-seed numbers (:mod:`.spread`).  Reads results; computes none."""
