"""Reports: ability estimates, item statistics, plots and exports, built from dataclasses and
arrays (never ORM rows)."""
