"""Chinese labels for the wire names users read in pages, lists and messages.

Pure data, importable from every layer. Wire names themselves are fixed by the contract (roles, sources,
outcomes, urgencies); only their labels live here.
"""

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

SOURCE_LABELS = {"grid": "网格上报", "hotline": "12345 热线", "open311": "接口接入", "township": "乡镇自查",
                 "county": "县级交办", "inspection": "巡查发现", "public": "群众反映"}

URGENCY_LABELS = {"normal": "一般", "urgent": "紧急"}

OUTCOME_LABELS = {"resolved": "已解决", "partially_resolved": "部分解决", "not_resolvable": "无法解决",
                  "transferred": "已移送（司法/公安）"}

SATISFACTION_LABELS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}

WHISTLE_ROLE_LABELS = {"lead": "主办", "assist": "协办"}
WHISTLE_STATE_LABELS = {"sent": "待报到", "checked_in": "已报到", "returned": "已退回"}
EXTENSION_STATE_LABELS = {"pending": "待审批", "approved": "已批准", "denied": "已驳回"}

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
    "passed": ("核查结论", None),
    "satisfaction": ("群众满意度", "向上报人或群众回访的结果"),
    "rating": ("对部门评价（一哨一考核）", "1–5 分，5 分最好"),
}
