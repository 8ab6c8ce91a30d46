"""Reports: ability estimates, item statistics, plots and exports, built from dataclasses and
arrays (never ORM rows)."""

from reports.certificates import CertificateData, render_certificate_pdf

__all__ = ["CertificateData", "render_certificate_pdf"]
