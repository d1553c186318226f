"""The risks the report names, worst first; the verdict shows the top three."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from auditplan.emit.detections import Evaluation, Exposure
from auditplan.records import BudgetKind, PlannedHost, Reason
from auditplan.text import number

CAPACITY_REASONS = (Reason.EXCEEDS_BUDGET, Reason.EXCEEDS_STEP, Reason.MAX_WAVES)
# Why a host is in no wave, by the plan's reason code (docs/plan-json.md, the planner's waves):
# its own load over the step, the budget spent before it, or every allowed wave full.
CAPACITY_WORDS = {Reason.EXCEEDS_STEP: "its own load is larger than one wave's step",
                  Reason.EXCEEDS_BUDGET: "the budget is used up",
                  Reason.MAX_WAVES: "the wave limit was reached"}
CAPACITY_LIMITS = {Reason.EXCEEDS_BUDGET: "the SIEM budget", Reason.EXCEEDS_STEP: "the wave step",
                   Reason.MAX_WAVES: "the wave limit"}  # what a host did not fit, in the headline
# The `auditplan plan` options (cli/plan.py) that would let such a host in, by budget kind.
CAPACITY_FIXES: dict[str, dict[str | None, str]] = {
    Reason.EXCEEDS_STEP: {BudgetKind.GB_DAY: "a larger step (--max-step-gb-day)",
                          BudgetKind.EPS: "a larger step (--max-step-eps)",
                          None: "a larger step (--max-step-gb-day or --max-step-eps)"},
    Reason.EXCEEDS_BUDGET: {BudgetKind.GB_DAY: "a larger budget (--budget-gb-day)",
                            BudgetKind.EPS: "a larger budget (--budget-eps)",
                            None: "a larger budget (--budget-gb-day or --budget-eps)"},
    Reason.MAX_WAVES: {None: "more waves (--max-waves)"},
}


def capacity_risk(capacity: Sequence[PlannedHost], kind: str | None) -> str:
    """The risk for hosts the plan left out for its limits: why, by reason, and the options that help."""
    codes = Counter(u.reason_code for u in capacity)
    why = "; ".join(f"{codes[code]} because {words}" for code, words in CAPACITY_WORDS.items() if codes[code])
    fixes = [f.get(kind, f[None]) for code, f in CAPACITY_FIXES.items() if codes[code]]
    names = ", ".join(u.host for u in capacity[:3]) + (
        f" and {len(capacity) - 3} more" if len(capacity) > 3 else "")
    return (f"{len(capacity)} host(s) are in no wave ({why}): {names}. They head the list 'Hosts not placed in "
            f"a wave' under Findings; to place them, re-run auditplan plan with {' and '.join(fixes)}, or plan them "
            "on their own.")


def risks(ctx: Mapping[str, Any], exposure: Exposure | None, detections: Evaluation | None) -> list[dict[str, Any]]:
    """Every risk found, worst first; the verdict shows the top three."""
    found: list[dict[str, Any]] = []
    r = ctx["readiness"]
    capacity = ctx["capacity_unplaced"]
    if capacity:
        found.append({"weight": 100, "text": capacity_risk(capacity, (ctx["budget"] or {}).get("kind")),
                      "fix": "Plan these hosts: re-run auditplan plan with the options named, or give them a plan "
                             "of their own."})
    if ctx["logs_short"]:
        found.append({"weight": 90, "text": f"{ctx['logs_short']} host(s) would keep less than "
                      f"{number(ctx['min_local_hours'])} hours of Security log history after enablement; raise "
                      "their log size first (the GPO can set it).",
                      "fix": "Write the GPOs with auditplan gpo --recommended-log-size (or --log-max-size-mb N) "
                             "and check each system disk has room for the larger log."})
    if r["unsupported"]:
        found.append({"weight": 80, "text": f"{r['unsupported']} host(s) run an OS that cannot log the command "
                      "line (older than 2012 R2 / 8.1 without KB3004375).",
                      "fix": "Install KB3004375 or upgrade these hosts; until then 4688 there carries no command "
                             "line."})
    failed = r["surveyed"] - r["reachable"]
    if failed:
        kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(r["failures"].items()))
        found.append({"weight": 70, "text": f"{failed} host(s) could not be surveyed ({kinds}): their load is a "
                      "guess from role priors.",
                      "fix": "Fix access (credentials, WinRM, firewall) and re-run auditplan survey --retry-failed."})
    if ctx.get("gpo_managed_hosts"):
        found.append({"weight": 55, "text": f"{ctx['gpo_managed_hosts']} wave host(s) get their audit policy from a "
                      "domain GPO; their wave GPO carries Process Creation only.",
                      "fix": "Add Process Creation and the command-line policy to the GPO that already delivers "
                             "their audit policy, rather than linking a second one (gpo/README.md)."})
    if ctx["local_settings_hosts"]:
        found.append({"weight": 60, "text": f"{ctx['local_settings_hosts']} host(s) audit other subcategories that "
                      "a GPO with advanced audit policy clears; each wave GPO carries them (the union). A host "
                      "that gains a subcategory from the union logs more events of other IDs, which this "
                      "report's volume and log-history figures do not include.",
                      "fix": "Keep the default auditplan gpo (not --process-creation-only), and check gpo/README.md "
                             "for hosts that gain subcategories; size their Security log for the added events, or "
                             "give them the subcategories in their own policy first."})
    if exposure and exposure.events_with_secrets:
        found.append({"weight": 85, "text": f"{exposure.events_with_secrets} of {exposure.events} sampled command "
                      f"lines carried a credential on {len(exposure.by_host)} host(s); with command-line auditing "
                      "everyone who can read the Security log would see such secrets.",
                      "fix": "Have the owners of those scripts and tasks stop passing secrets on the command line, "
                             "and limit who can read the Security log and the SIEM index."})
    broad = (ctx.get("log_readers") or {}).get("broad_hosts") or []
    if broad:
        shown = ", ".join(broad[:5]) + (f" and {len(broad) - 5} more" if len(broad) > 5 else "")
        found.append({"weight": 88, "text": f"{len(broad)} host(s) let a group most accounts are in read the "
                      f"Security log ({shown}): once command lines are audited, those accounts read them too.",
                      "fix": "Restrict the Security log's channelAccess ACL to the defaults before enabling "
                             "(see 'Who can read the command lines')."})
    if detections and detections.cmdline_share is not None and detections.cmdline_share < 0.5:
        found.append({"weight": 40, "text": "Most sampled 4688 events carry no command line yet, so the detection "
                      "estimates below are a floor, not a forecast.",
                      "fix": "Re-run auditplan detections evaluate after the pilot, on command lines the GPO "
                             "turned on."})
    for finding in found:
        finding["severity"] = severity(finding["weight"])
    return sorted(found, key=lambda x: -x["weight"])


# Severity from a finding's weight: high ones are the verdict's conditions.
SEVERITIES = (("high", 80), ("medium", 50), ("low", 0))


def severity(weight: int) -> str:
    """high (a condition of the rollout), medium (fix during it) or low (good to know)."""
    return next(name for name, floor in SEVERITIES if weight >= floor)
