"""What a referral's cause can be, as plain values (clinical-reference.md section 1, our wording).

Pure, so the pure rule modules (``assessments.classification``, ``prescriptions.library``)
and the model's choices (``ReferralCause``) share one list.
"""

REFERRAL_CAUSES: dict[str, str] = {
    "hip_osteoarthritis": "Hip osteoarthritis",
    "cerebral_palsy": "Cerebral palsy",
    "transpsoas_surgery": "Lateral transpsoas spine surgery",
    "lack_of_exercise": "Lack of exercise",
    "prolonged_sitting": "Prolonged sitting",
    "other": "Other",
}
