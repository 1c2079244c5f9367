"""The shipped exercise library: plain data, no Django.

``apps.prescriptions.apps.ensure_exercise_library`` creates one ``Exercise`` row per entry
(``Exercise(**entry)``), so every entry has exactly the model's library fields. Sources, all
in ``/work/shared/clinical-reference.md``:

* section 4: the ladder (rank 1 = easiest, 10 = hardest) and the starting dose of the
  referring clinic, 2-3 sets of 6-20 repetitions, form before reps; the wall psoas hold
  (30 s) and the banded diagonal steps (band round both ankles, about 20 steps of 2-3 feet)
  come from the seed article;
* section 5: progression adds a set up to 3, reps up to 20, then load or hold time; the
  pain-monitoring model the hip osteoarthritis cautions quote;
* section 6: the cautions per referral cause.

Names, steps and cautions are our own words. Instructions are shown as a numbered list, so
the strings carry no numbers. Cautions are shown to therapists, who must acknowledge them
before a program goes active, so an exercise carries one only where section 6 (or plain
clinical sense, marked ``# clinical sense`` below) gives a reason.
"""

from __future__ import annotations

from typing import Any

Exercise = dict[str, Any]

LADDER_RANKS = range(1, 11)

MUSCLE_BIASES = ("iliopsoas", "rectus_femoris")
EQUIPMENT = ("none", "chair", "wall", "ankle_weights", "floor_sliders", "resistance_band", "mini_band", "bar")
DOSE_TYPES = ("repetitions", "hold_seconds", "steps", "minutes")
LOAD_UNITS = ("none", "kg", "band")
BAND_LEVELS = range(1, 6)  # load_unit "band": resistance level 1 (lightest) to 5
# External load or resistance; hanging from a bar counts (body weight on the hip flexors).
LOADED_EQUIPMENT = frozenset({"ankle_weights", "resistance_band", "mini_band", "bar"})
LOAD_UNIT_BY_EQUIPMENT = {"ankle_weights": "kg", "resistance_band": "band", "mini_band": "band"}

EXERCISE_KEYS = (
    "slug", "name", "ladder_rank", "muscle_bias", "equipment", "instructions", "per_side", "dose_type",
    "default_sets", "min_sets", "max_sets", "default_dose_low", "default_dose_high", "min_dose", "max_dose",
    "load_unit", "max_load", "loaded_or_resisted", "cautions",
)

# Section 4: "2-3 sets of 6-20"; section 5: "add a set (max 3)". Start at 2 so a set can be added.
SETS = (2, 1, 3)  # default, min, max
REPS = (8, 12, 6, 20)  # default low, default high, min, max
REPS_EASY = (10, 15, 6, 20)  # ranks 1-2: little effort per rep
REPS_HARD = (6, 8, 6, 20)  # ranks 9-10: start at the bottom of the range (section 5)

# ---------------------------------------------------------------------------- cautions

STOP = "Stop if you feel a sharp pain."

# Section 6, transpsoas surgery: clearance before loaded or resisted work within 6 weeks.
TRANSPSOAS_LOADED = (
    "Loaded or resisted hip flexion: within 6 weeks of the surgery, prescribe it only with the surgeon's "
    "clearance on record."
)
# Section 6, cerebral palsy: prefer knee-flexed, iliopsoas-biased work.
CP_STRAIGHT_KNEE = (
    "Straight-knee work that favours rectus femoris: prefer a bent-knee, iliopsoas-biased exercise and watch "
    "walking for any increase in crouch."
)
# Section 6, cerebral palsy: extra hip-flexion torque in swing may increase crouch.
CP_HIGH_TORQUE = (
    "High hip-flexion effort: extra torque may deepen a crouch gait, so progress slowly and recheck walking "
    "after each step up."
)
# Section 6 says only "exercise is safe; pain-monitor"; the deep-flexion part is clinical sense
# (a deeply bent arthritic hip is often the painful end of range). Pain rule: section 5.
OA_DEEP_FLEXION = (
    "Deep hip bend: keep to a comfortable range and monitor pain (up to 5/10 is acceptable if it settles by "
    "the next morning, otherwise step back down the ladder)."
)


def _exercise(
    slug: str,
    name: str,
    ladder_rank: int,
    muscle_bias: str,
    equipment: str,
    instructions: list[str],
    *,
    per_side: bool = True,
    dose_type: str = "repetitions",
    dose: tuple[int, int, int, int] = REPS,
    max_load: float | None = None,
    loaded_or_resisted: bool | None = None,
    cautions: dict[str, str] | None = None,
) -> Exercise:
    default_sets, min_sets, max_sets = SETS
    low, high, min_dose, max_dose = dose
    return {
        "slug": slug,
        "name": name,
        "ladder_rank": ladder_rank,
        "muscle_bias": muscle_bias,
        "equipment": equipment,
        "instructions": [*instructions, STOP],
        "per_side": per_side,
        "dose_type": dose_type,
        "default_sets": default_sets,
        "min_sets": min_sets,
        "max_sets": max_sets,
        "default_dose_low": low,
        "default_dose_high": high,
        "min_dose": min_dose,
        "max_dose": max_dose,
        "load_unit": LOAD_UNIT_BY_EQUIPMENT.get(equipment, "none"),
        "max_load": max_load,
        "loaded_or_resisted": equipment in LOADED_EQUIPMENT if loaded_or_resisted is None else loaded_or_resisted,
        "cautions": dict(cautions or {}),
    }


# ---------------------------------------------------------------------------- the library

EXERCISES: tuple[Exercise, ...] = (
    # 1 ------------------------------------------------------------------------------------
    _exercise(
        "seated-knee-raise", "Seated knee raise (seated march)", 1, "iliopsoas", "chair",
        [
            "Sit up tall near the front of a sturdy chair, feet flat, hands resting on the edge of the seat.",
            "Keep the knee bent and lift one thigh a little way off the seat, then lower it slowly.",
            "Stay upright: do not lean back to help the leg up.",
            "Breathe out as the knee rises and in as it comes down. Finish one side, then do the other.",
        ],
        dose=REPS_EASY,
    ),
    # 2 ------------------------------------------------------------------------------------
    _exercise(
        "supine-heel-slide", "Lying heel slide", 2, "iliopsoas", "none",
        [
            "Lie on your back on a bed or mat with both legs out straight.",
            "Slide one heel along the surface toward your bottom, letting the knee bend and rise.",
            "Go only as far as is comfortable, pause, then slide the heel slowly back down.",
            "Keep your lower back relaxed and breathe steadily. Finish one side, then do the other.",
        ],
        dose=REPS_EASY,
        cautions={"hip_osteoarthritis": OA_DEEP_FLEXION},  # clinical sense: ends in deep flexion
    ),
    # 3 ------------------------------------------------------------------------------------
    _exercise(
        "straight-leg-raise", "Straight leg raise", 3, "rectus_femoris", "none",
        [
            "Lie on your back, one knee bent with that foot flat, the other leg out straight.",
            "Tighten the muscle on the front of the straight leg's thigh and pull the toes toward you.",
            "Lift the straight leg to the height of the bent knee, then lower it slowly.",
            "Keep your lower back still against the floor and breathe out as you lift.",
            "Finish one side, then swap legs.",
        ],
        cautions={"cerebral_palsy": CP_STRAIGHT_KNEE},
    ),
    # 4 ------------------------------------------------------------------------------------
    _exercise(
        "standing-march", "Standing march", 4, "iliopsoas", "wall",
        [
            "Stand tall side-on to a wall or kitchen counter, one hand resting on it for balance.",
            "Lift one knee toward hip height, knee bent, then put the foot down softly.",
            "Keep your body upright: no leaning back or to the side as the knee comes up.",
            "Swap legs each time, like marching on the spot, breathing steadily.",
            "Count each lift of one leg as one rep.",
        ],
    ),
    _exercise(
        "standing-march-mini-band", "Standing march with a mini-band", 4, "iliopsoas", "mini_band",
        [
            "Put a loop band round both feet, over the laces, and stand side-on to a wall for balance.",
            "Lift one knee toward hip height against the band, knee bent.",
            "Lower the foot with control and keep your body upright throughout.",
            "Swap legs each time and breathe out on every lift. Start with the lightest band.",
        ],
        max_load=5.0,
        cautions={"transpsoas_surgery": TRANSPSOAS_LOADED},
    ),
    # 5 ------------------------------------------------------------------------------------
    _exercise(
        "seated-hip-flexion-ankle-weights", "Seated hip flexion with ankle weights", 5, "iliopsoas", "ankle_weights",
        [
            "Strap a light weight round each ankle and sit up tall near the front of a sturdy chair.",
            "Keep the knee bent and slowly lift one thigh off the seat as high as you can control.",
            "Pause, then lower the foot slowly: do not let it drop.",
            "Stay upright and breathe out as you lift. Finish one side, then do the other.",
        ],
        max_load=5.0,
        cautions={"transpsoas_surgery": TRANSPSOAS_LOADED},
    ),
    _exercise(
        "standing-hip-flexion-ankle-weights", "Standing hip flexion with ankle weights", 5, "iliopsoas",
        "ankle_weights",
        [
            "Strap a light weight round the ankle of the working leg and stand side-on to a wall, one hand on it.",
            "Keep the knee bent and slowly bring it up toward hip height.",
            "Lower the foot slowly to the floor, standing tall the whole time.",
            "Keep the standing knee soft, not locked, and breathe out as you lift.",
            "Finish one side, then swap the weight to the other ankle.",
        ],
        max_load=5.0,
        cautions={"transpsoas_surgery": TRANSPSOAS_LOADED},
    ),
    # 6 ------------------------------------------------------------------------------------
    _exercise(
        "wall-psoas-hold", "Wall psoas hold", 6, "iliopsoas", "wall",
        [
            "Stand with your back against a wall, feet a hip's width apart.",
            "Bend one knee and lift it until the thigh is level with your hip.",
            "Keep the knee up for the set time while you stand on one leg, breathing slowly.",
            "Lower the foot with control, then do the other side. Touch the wall with a hand if you wobble.",
        ],
        dose_type="hold_seconds",
        dose=(20, 30, 10, 60),  # seed: 30 s; build up to it, progress hold time to 60 s
    ),
    # 7 ------------------------------------------------------------------------------------
    _exercise(
        "resistance-band-hip-flexion", "Resistance-band hip flexion", 7, "iliopsoas", "resistance_band",
        [
            "Tie a resistance band to a solid, low anchor behind you and loop the free end round one ankle.",
            "Step forward until the band is just tight; hold a wall or chair back for balance.",
            "Drive the banded knee forward and up to hip height, knee bent, breathing out as you go.",
            "Let the leg return slowly against the pull of the band, standing tall.",
            "Finish one side, then move the band to the other ankle.",
        ],
        max_load=5.0,
        cautions={"transpsoas_surgery": TRANSPSOAS_LOADED},
    ),
    _exercise(
        "banded-diagonal-steps", "Banded diagonal steps", 7, "iliopsoas", "mini_band",
        [
            "Loop a mini-band round both ankles, then stand with feet under your hips and a little bend in the knees.",
            "Take a long step forward and out at an angle, about 60 to 90 cm, then bring the other foot to follow.",
            "Keep the band tight and your knees pointing over your toes, not falling inward.",
            "Step diagonally to the other side next, breathing steadily. Each step counts as one.",
        ],
        per_side=False,
        dose_type="steps",
        dose=(16, 20, 10, 30),  # seed: about 20 steps
        max_load=5.0,
        cautions={"transpsoas_surgery": TRANSPSOAS_LOADED},
    ),
    # 8 ------------------------------------------------------------------------------------
    _exercise(
        "lunge", "Forward lunge", 8, "iliopsoas", "none",
        [
            "Stand tall, feet a hip's width apart, with clear space in front of you.",
            "Take a big step forward and lower slowly until the front knee is bent to a right angle.",
            "Keep the front knee over the ankle and your body upright; the back knee sinks toward the floor.",
            "Push through the front foot and lift that knee to step back to standing, breathing out as you rise.",
            "Finish one side, then do the other.",
        ],
        cautions={"hip_osteoarthritis": OA_DEEP_FLEXION},  # clinical sense: front hip near 90 deg under load
    ),
    _exercise(
        "skater-squat", "Skater squat", 8, "rectus_femoris", "none",
        [
            "Stand tall, feet a hip's width apart, arms out in front to help your balance.",
            "Sit back into a squat, back straight and knees in line with your toes.",
            "Rise, shift your weight onto one leg and lift the other leg out to the side, toes facing forward.",
            "Put the foot down and repeat, lifting the other leg the next time. Breathe out as you rise.",
            "Stand near a wall or counter if balancing is hard.",
        ],
        cautions={
            "cerebral_palsy": (
                "Quadriceps-heavy squatting that favours rectus femoris: prefer a bent-knee, iliopsoas-biased "
                "exercise and check it does not reinforce a crouched posture."
            ),
            "hip_osteoarthritis": OA_DEEP_FLEXION,  # clinical sense: squat depth
        },
    ),
    # 9 ------------------------------------------------------------------------------------
    _exercise(
        "sliding-mountain-climbers", "Sliding mountain climbers", 9, "iliopsoas", "floor_sliders",
        [
            "Start in a high plank on your hands, a slider under the front of each foot.",
            "Keep your hands under your shoulders and your body in a straight line from head to heels.",
            "Slide one knee in toward your chest, slide it back, then bring the other knee in.",
            "Move slowly and smoothly, breathing steadily; do not let your hips sag or lift.",
            "Count each knee drive of one leg as one rep.",
        ],
        dose=REPS_HARD,
        cautions={
            "cerebral_palsy": CP_HIGH_TORQUE,
            "hip_osteoarthritis": OA_DEEP_FLEXION,  # clinical sense: knee to chest
        },
    ),
    # 10 -----------------------------------------------------------------------------------
    _exercise(
        "hanging-knee-raise", "Hanging knee raise", 10, "iliopsoas", "bar",
        [
            "Hang from a sturdy pull-up bar with straight arms and a firm grip.",
            "Tighten your stomach so your body does not swing.",
            "Bring both knees up toward your chest, then lower them slowly, breathing out as they rise.",
            "Stop the set before your grip gives way and step down onto something stable.",
        ],
        per_side=False,
        dose=REPS_HARD,
        cautions={
            "transpsoas_surgery": TRANSPSOAS_LOADED,
            "cerebral_palsy": CP_HIGH_TORQUE,
            "hip_osteoarthritis": OA_DEEP_FLEXION,  # clinical sense: knees to chest under body weight
        },
    ),
    _exercise(
        "pike", "Pike on floor sliders", 10, "rectus_femoris", "floor_sliders",
        [
            "Start in a high plank on your hands with both feet on sliders.",
            "Keep your legs straight, lift your hips high and slide your feet toward your hands.",
            "Go only as far as you can control, then slide your feet back to the plank.",
            "Keep your arms straight and breathe out as your hips rise; stop if your lower back sags.",
        ],
        per_side=False,
        dose=REPS_HARD,
        cautions={
            "cerebral_palsy": CP_STRAIGHT_KNEE,
            "hip_osteoarthritis": OA_DEEP_FLEXION,  # clinical sense: hips flexed past 90 deg
        },
    ),
)


def by_slug() -> dict[str, Exercise]:
    """The library keyed by slug (a fresh dict of copies, so callers may change them)."""
    return {entry["slug"]: {**entry, "instructions": list(entry["instructions"]), "cautions": dict(entry["cautions"])}
            for entry in EXERCISES}
