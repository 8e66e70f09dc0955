"""Uppskjuten vård: the deferred-care section of the interim reports, per unit and period.

What the auditors (Produktionsplanering) asked for, at region, område, verksamhet and enhet:
waiting lists and the care guarantee, production against plan, cost per production unit
against last year, inpatient capacity, and the share of managers trained.

:mod:`.figures` counts (and says how), :mod:`.lines` is what a document shows of them,
:mod:`.summary` the generated summary of the largest changes, :mod:`.document` writes the
section of each unit.

Small numbers: counts of waiting patients 1–4 are shown as ``<5``, and so are shares and
changes computed from such counts (they would give the small count away). Production,
money, beds, bed-days and the managers' training are not counts of patients and are shown
as they are.
"""
