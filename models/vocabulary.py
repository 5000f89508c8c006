"""The one vocabulary: every wire name users read in pages, lists, messages and reports, with its Chinese label.

Pure data, importable from every layer (models imports nothing of ours). Wire names themselves are fixed by the
contract (states, actions, roles, sources, outcomes, urgencies, alert levels); only their labels live here, and
no other module keeps a copy. The states and actions are defined by flows/lifecycle.py's table, which checks that
each has its label here.
"""

# ---- the case: states and actions (flows/lifecycle.py) --------------------------------------
STATE_LABELS = {
    "reported": "已上报",
    "accepted": "已受理",
    "dispatched": "已吹哨",
    "handling": "办理中",
    "feedback": "待核查",  # the lead unit reported back; the township verifies next
    "legal_review": "法制审核中",  # 重大执法决定: the legal reviewer (法制审核员) reviews it before verification
    "closed": "已结案",
    "rejected": "不予受理",
    "merged": "已合并",  # a duplicate, merged into its master case
    "returned": "已退回",
    "disputed": "争议中",  # returned twice or escalated: the county names the lead unit
    "suspended": "已挂起",  # 缓办: every clock paused
}

# the six steps of the loop (六步闭环), in order: a state's step is flows/lifecycle.STEP
STEP_LABELS = ("事件上报", "事件受理", "事项流转", "工作办理", "结果反馈", "核查结案")

# every action of the transition table, and the two timeline entries that are not transitions
ACTION_LABELS = {
    "report": "上报",
    "accept": "受理",
    "reject": "不予受理",
    "merge": "合并重复",
    "dispatch": "吹哨",
    "check_in": "报到",
    "return": "退回",
    "escalate_dispute": "提请裁定",
    "arbitrate": "争议裁定",
    "request_extension": "申请延期",
    "approve_extension": "批准延期",
    "deny_extension": "驳回延期",
    "suspend": "挂起",
    "resume": "恢复",
    "feedback": "结果反馈",
    "verify": "核查",
    "approve_legal_review": "审核通过",  # reads in "不能{label}" (flows/lifecycle._why_not); the step says 法制审核
    "return_legal_review": "审核退回",
    "urge": "催办",
    "supervise": "督办",
    "attach": "上传附件",
}

# ---- people and places ---------------------------------------------------------------------
ROLE_LABELS = {
    "grid_worker": "网格员",
    "township_dispatcher": "乡镇受理员",
    "township_liaison": "乡镇执法联络员",
    "department_liaison": "部门联络员",
    "department_officer": "部门执法人员",
    "county_supervisor": "县级监督",
    "legal_reviewer": "法制审核员",
    "admin": "管理员",
    "integrator": "接入系统",
}

UNIT_KIND_LABELS = {"county": "县", "township": "乡镇/街道", "grid": "网格", "department": "县直部门",
                    "team": "乡镇综合行政执法队"}

# ---- what a case carries -------------------------------------------------------------------
SOURCE_LABELS = {"grid": "网格上报", "hotline": "12345 热线", "open311": "平台接入", "township": "乡镇自查",
                 "county": "县级交办", "inspection": "巡查发现", "public": "群众反映"}

URGENCY_LABELS = {"normal": "一般", "urgent": "紧急"}

OUTCOME_LABELS = {"resolved": "已解决", "partially_resolved": "部分解决", "not_resolvable": "无法解决",
                  "transferred": "已移送司法/公安"}  # read inside sentences too: no brackets

SATISFACTION_LABELS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}

# ---- whistles (哨令), extension requests, external deliveries: their states (deliveries are never shown) ----
WHISTLE_SENT, WHISTLE_CHECKED_IN, WHISTLE_RETURNED = "sent", "checked_in", "returned"
EXTENSION_PENDING, EXTENSION_APPROVED, EXTENSION_DENIED = "pending", "approved", "denied"
DELIVERY_PENDING, DELIVERY_SENT, DELIVERY_FAILED = "pending", "sent", "failed"

WHISTLE_ROLE_LABELS = {"lead": "主办", "assist": "协办"}
WHISTLE_STATE_LABELS = {WHISTLE_SENT: "待报到", WHISTLE_CHECKED_IN: "已报到", WHISTLE_RETURNED: "已退回"}
EXTENSION_STATE_LABELS = {EXTENSION_PENDING: "待审批", EXTENSION_APPROVED: "已批准", EXTENSION_DENIED: "已驳回"}

# ---- clocks and alerts (flows/clocks.py) ---------------------------------------------------------
# the step clocks, as the admin's limits form and alert messages name them
CLOCK_LABELS = {"accept": "受理", "dispatch": "流转", "check_in": "报到", "handle": "办理", "verify": "核查",
                "arbitrate": "争议裁定", "legal_review": "法制审核"}
# an alert level in full (messages, notifications, the bulletin's case lists) …
ALERT_LABELS = {"none": "正常", "warning": "黄灯预警", "overdue": "红灯超时", "escalated": "升级督办"}
# … and as a badge or filter choice says it, beside its colour and icon
ALERT_SHORT_LABELS = {"none": "正常", "warning": "黄灯", "overdue": "红灯", "escalated": "督办"}

# ---- the bulletin's scorecard (flows/bulletin.py, flows/reports/) ------------------------------------
METRIC_LABELS = {"check_in": "及时报到率", "on_time": "按期办结率", "closure": "办结率", "returns": "退回率",
                 "rework": "返工率", "satisfaction": "满意率", "rating": "一哨一考核评分"}

# ---- forms ---------------------------------------------------------------------------------------
# the fields of action bodies (flows/commands.py), as a form shows them: label, hint
FIELD_LABELS = {
    "category": ("事项类别", "从事项清单中选择，可输入名称搜索"),
    "urgency": ("紧急程度", "紧急事件按自然时间计时"),
    "note": ("备注", None),
    "reason": ("理由", "请写明具体原因，将记入全过程记录"),
    "into": ("合并到案件", "选择重复事件对应的主案件"),
    "lead_unit": ("主办单位", "默认按事项清单和本乡镇清单确定"),
    "assist_units": ("协办单位", "可多选"),
    "working_days": ("延期工作日数", "1–60 个工作日，须在时限届满前申请"),
    "outcome": ("办理结果", None),
    "result": ("办理情况", "写明处置经过和结果，可在下方上传现场照片等证据"),
    "officers": ("执法人员", "行政执法事项须选择至少两名持有效执法证的执法人员"),
    "major": ("重大执法决定", "拟作出的决定属于重大执法决定（如强制拆除、大额罚款、吊销许可证）的，勾选后先送法制审核"),
    "passed": ("核查结论", None),
    "satisfaction": ("群众满意度", "向上报人或群众回访的结果"),
    "rating": ("对部门评价（一哨一考核）", "1–5 分，5 分最好"),
}
