"""`chuishao demo`: a realistic demo county (文水县) with months of case history.

Everything goes through the service layer — `AdminService` for units, users, catalog and township
overrides, `CaseService.report/act` with an explicit `now` for every case step — so each case carries
a valid hash-chained timeline and only moves the way the transition table allows.

How the history is made: every case is first *planned* in memory (a script of timed steps walking the
six-step loop and its side paths, cut off at `now`), then all steps of all cases are *replayed* in
time order. Replaying in time order keeps case ids in report order and lets a duplicate be merged into
a master case that is still open at that moment. Planning only draws from `random.Random(seed)`, so the
same seed and the same `now` give the same county.
"""

import random
import time as wallclock
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from api.deps import Services
from flows import lifecycle as lc
from flows.access import Actor
from flows.admin import bootstrap
from flows.calendar import WorkingCalendar
from flows.clock import LOCAL_TZ
from flows.clocks import resolve_limit
from flows.errors import Conflict
from flows.sweep import sweep
from models.cases import Case
from models.org import Unit, User
from models.settings_table import Setting
from models.vocabulary import ROLE_LABELS

DEMO_PASSWORD = "chuishao2026"
DEMO_LOGINS_KEY = "demo_logins"  # read by the login page (api/web/auth.py)
# (role, usernames): one or two of each role, in the order of the loop
DEMO_LOGINS = (("grid_worker", ["fc_g1", "fc_g2"]), ("township_dispatcher", ["fc_dispatcher"]),
               ("township_liaison", ["fc_liaison"]), ("department_liaison", ["zrzy_liaison", "fc_zfd_liaison"]),
               ("department_officer", ["zrzy_officer1", "fc_zfd_officer1"]), ("county_supervisor", ["supervisor"]),
               ("admin", ["admin"]))
COUNTY_CODE, COUNTY_NAME = "WS", "文水县"
HANDLING_EXT = "handling+extension"  # planning marker: left in handling with a pending extension


class DemoExists(Conflict):
    code = "demo_exists"


# ---- the county ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TownshipSpec:
    code: str
    name: str
    prefix: str  # username prefix
    lon: float
    lat: float
    size: float  # relative case volume
    urban: bool
    team: bool  # has its own 综合行政执法队
    places: tuple[str, ...]  # the five grids

    @property
    def team_code(self) -> str | None:
        return f"{self.code}-ZFD" if self.team else None


TOWNSHIPS = (
    TownshipSpec("FC", "凤城镇", "fc", 112.028, 37.437, 1.6, True, True,
                 ("东街社区", "西街社区", "南街社区", "北街社区", "城关村")),
    TownshipSpec("LHL", "刘胡兰镇", "lhl", 111.985, 37.318, 1.0, False, True,
                 ("刘胡兰村", "保贤村", "大象村", "南胡家堡村", "东社村")),
    TownshipSpec("NZ", "南庄镇", "nz", 112.121, 37.388, 0.9, False, True,
                 ("南庄村", "上贤村", "北徐村", "杜家寨村", "马村")),
    TownshipSpec("XY", "孝义镇", "xy", 112.170, 37.445, 1.0, False, True,
                 ("孝义村", "宜儿村", "南白村", "北峪口村", "相宜村")),
    TownshipSpec("KZ", "开栅镇", "kz", 112.098, 37.492, 0.9, False, False,
                 ("开栅村", "东城村", "信贤村", "北张家庄村", "王家堡村")),
    TownshipSpec("XQ", "下曲镇", "xq", 112.062, 37.352, 0.8, False, False,
                 ("下曲村", "乐村", "武良村", "石永村", "南武村")),
    TownshipSpec("MX", "马西乡", "mx", 111.935, 37.425, 0.7, False, False,
                 ("马西村", "北辛店村", "穆家寨村", "东宜亭村", "西宜亭村")),
    TownshipSpec("XC", "西城乡", "xc", 111.962, 37.478, 0.8, False, False,
                 ("西城村", "麻家堡村", "北城村", "明阳村", "苏家寨村")),
)
POLYGON_GRIDS = 3  # grids 1-3 of each township carry a GeoJSON polygon, 4-5 do not
GRID_HALF = 0.009  # half the side of a grid square, in degrees


@dataclass(frozen=True)
class Speed:
    late: float  # chance a check-in or handling step of this unit runs past its limit
    quality: float  # chance the township is satisfied with the result


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    officers: int
    speed: Speed


SLOW, NORMAL, FAST = Speed(0.3, 0.72), Speed(0.1, 0.85), Speed(0.04, 0.92)
TEAM_SPEED = Speed(0.05, 0.9)
TOWNSHIP_LATE = 0.06  # township staff (accept, dispatch, verify) and the county (arbitrate)

DEPARTMENTS = (
    DepartmentSpec("ZRZY", "文水县自然资源局", 3, SLOW),
    DepartmentSpec("STHJ", "吕梁市生态环境局文水分局", 3, NORMAL),
    DepartmentSpec("ZJJ", "文水县住房和城乡建设局", 3, NORMAL),
    DepartmentSpec("CGJ", "文水县城市管理局", 3, FAST),
    DepartmentSpec("SCJG", "文水县市场监督管理局", 3, FAST),
    DepartmentSpec("YJGL", "文水县应急管理局", 2, FAST),
    DepartmentSpec("NYNC", "文水县农业农村局", 2, NORMAL),
    DepartmentSpec("SLJ", "文水县水利局", 2, SLOW),
    DepartmentSpec("JTYS", "文水县交通运输局", 2, SLOW),
    DepartmentSpec("WJJ", "文水县卫生健康局", 3, NORMAL),
    DepartmentSpec("GAJ", "文水县公安局", 2, FAST),
    DepartmentSpec("WHLY", "文水县文化和旅游局", 2, NORMAL),
)
DEPT_BY_CODE = {d.code: d for d in DEPARTMENTS}

# month → weight multiplier; anything absent gets "_"
SEASONS = {
    "": {"_": 1.0},
    "burn": {10: 6, 11: 5, 3: 2, 4: 2, 6: 1.5, "_": 0.15},  # autumn harvest, spring, wheat harvest
    "heat": {11: 3, 12: 4, 1: 4, 2: 3, 10: 1, 3: 1, "_": 0.05},  # heating season
    "flood": {6: 3, 7: 4, 8: 4, 9: 2, "_": 0.3},  # 汛期
    "summer": {5: 1.3, 6: 1.5, 7: 1.6, 8: 1.6, 9: 1.3, "_": 0.8},
    "farm": {3: 3, 4: 3, 5: 2, 9: 2, 10: 2.5, "_": 0.4},  # sowing seasons
    "festival": {12: 2, 1: 3, 2: 3, "_": 0.4},  # Spring Festival fireworks
    "build": {12: 0.3, 1: 0.2, 2: 0.3, "_": 1.0},  # construction stops in the frost months
}
WORKDAY_MINUTES = 450  # one working day (09:00-12:00, 13:30-17:30), the unit the plans count delays in
SWEEP_EVERY = timedelta(hours=1)  # the deadline sweep runs this often in simulated time during the replay


@dataclass(frozen=True)
class ItemSpec:
    code: str
    name: str
    category: str
    lead: str
    assists: tuple[str, ...]
    alt: str  # the unit a case of this kind is most often misrouted to
    weight: float
    season: str = ""
    where: str = ""  # "u" urban-heavy, "r" rural-heavy
    urgent: float = 0.08
    effort: str = "general"  # "simple" items are usually done in half the time
    devolved: bool = False
    enforcement: bool = False
    limits: dict | None = None
    cases: tuple[tuple[str, str], ...] = ()
    fix: str = ""


def I(code, name, category, lead, assists, alt, weight, cases, fix, **kw) -> ItemSpec:  # noqa: E743
    return ItemSpec(code, name, category, lead, tuple(assists), alt, weight, cases=tuple(cases), fix=fix, **kw)


CATALOG = (
    # ---- 国土资源 ----
    I("GT01", "违法占用耕地", "国土资源/违法占地", "ZRZY", ["NYNC"], "ZJJ", 2.5, [
        ("{place}有人在耕地上违规搭建养殖大棚", "{addr}耕地上新建钢架大棚约 300 平方米，疑似未办理设施农用地备案。"),
        ("{place}村西农田被推平堆放建材", "{addr}约 2 亩耕地被推平硬化，堆放砖块和钢材，现场有施工机械。"),
    ], "已下达《责令停止违法行为通知书》，拆除地上建筑物并复垦，依法立案查处", where="r", effort="complex",
      enforcement=True, limits={"handle": {"normal": "15d", "urgent": "72h"}}),
    I("GT02", "农村乱占耕地建房", "国土资源/违法建设", "ZJJ", ["ZRZY"], "ZRZY", 2.5, [
        ("{place}村民未批先建新房", "{addr}一户村民未取得乡村建设规划许可证，正在打地基新建住房。"),
        ("{place}有人在承包地上加盖二层楼", "{addr}承包地上新建二层砖混房屋，已砌至二层，疑似占用耕地。"),
    ], "已责令停止施工并自行拆除违建部分，恢复土地原状", where="r", effort="complex", devolved=True,
      enforcement=True, season="build", limits={"handle": {"normal": "10d", "urgent": "48h"}}),
    I("GT03", "私挖滥采", "国土资源/私挖滥采", "ZRZY", ["GAJ", "STHJ"], "SLJ", 1.2, [
        ("{place}附近夜间有人私挖黄土", "群众反映{addr}夜间有挖掘机和翻斗车私挖黄土外运，已形成深坑。"),
        ("{place}沟内有人盗采砂石", "{addr}沟道内发现新开挖痕迹，有车辆拉运砂石。"),
    ], "已扣押作业机械并回填现场，移交线索立案调查", where="r", urgent=0.3, effort="complex", enforcement=True),
    I("GT04", "耕地撂荒", "国土资源/耕地保护", "NYNC", ["ZRZY"], "ZRZY", 0.8, [
        ("{place}多块耕地撂荒", "{addr}约 15 亩耕地连续两年未耕种，杂草丛生。"),
        ("{place}永久基本农田被改种苗木", "{addr}永久基本农田被改种绿化苗木约 8 亩。"),
    ], "已约谈承包户，落实复耕复种，纳入耕地保护台账", where="r", effort="complex", season="farm"),
    # ---- 城乡建设 ----
    I("JS01", "危房排查", "城乡建设/房屋安全", "ZJJ", ["YJGL"], "YJGL", 1.2, [
        ("{place}一处老旧土坯房墙体开裂", "{addr}一处无人居住的土坯房后墙出现贯通裂缝，紧邻村道，存在倒塌风险。"),
        ("{place}独居老人住房屋顶漏雨", "{addr}独居老人所住房屋屋顶塌陷漏雨，需鉴定是否属于危房。"),
    ], "已组织房屋安全鉴定，设置警示标志并转移人员，纳入危房改造计划", season="flood", urgent=0.25),
    I("JS02", "建筑工地扬尘", "城乡建设/扬尘污染", "ZJJ", ["STHJ"], "STHJ", 1.2, [
        ("{place}工地裸土未覆盖扬尘严重", "{addr}在建工地大面积裸土未苫盖，进出车辆未冲洗，扬尘明显。"),
        ("{place}渣土车沿路抛洒", "{addr}附近道路有渣土车抛洒，路面污染严重。"),
    ], "已责令工地落实“六个百分之百”防尘措施，对施工单位立案处罚", where="u", season="build", enforcement=True),
    I("JS03", "燃气安全隐患", "城乡建设/燃气安全", "ZJJ", ["YJGL"], "YJGL", 0.9, [
        ("{place}楼道内有燃气异味", "{addr}楼道内闻到明显燃气味，疑似管道接口泄漏。"),
        ("{place}餐馆违规使用液化气钢瓶", "{addr}一家餐馆后厨违规存放多个液化气钢瓶，未安装报警装置。"),
    ], "已关闭阀门并由燃气公司抢修，督促加装燃气泄漏报警器", where="u", season="heat", urgent=0.5, effort="simple",
      limits={"check_in": {"normal": "1h", "urgent": "30m"}, "handle": {"normal": "2d", "urgent": "12h"}}),
    # ---- 市容环境 ----
    I("SR01", "占道经营", "市容环境/占道经营", "CGJ", ["SCJG"], "SCJG", 2.2, [
        ("{place}路口水果摊占道经营", "{addr}路口多个水果摊点占用人行道和机动车道经营，影响通行。"),
        ("{place}早市摊点占道", "{addr}早市摊贩占道经营，造成交通拥堵。"),
    ], "已劝导摊贩进入便民市场经营，清理占道物品", where="u", season="summer", effort="simple", devolved=True),
    I("SR02", "乱堆乱放", "市容环境/乱堆乱放", "CGJ", [], "NYNC", 2.2, [
        ("{place}村道两侧柴草乱堆乱放", "{addr}村道两侧堆放大量柴草和建筑垃圾，存在火灾隐患。"),
        ("{place}楼道堆放杂物", "{addr}楼道内堆放杂物和电动车，堵塞通道。"),
    ], "已组织清理，落实门前三包责任", effort="simple", devolved=True,
      limits={"handle": {"normal": "3d", "urgent": "24h"}}),
    I("SR03", "违规设置户外广告", "市容环境/户外广告", "CGJ", [], "SCJG", 0.8, [
        ("{place}临街楼顶违规设置大型广告牌", "{addr}临街楼顶新设大型广告牌，未经审批，存在坠落隐患。"),
        ("{place}沿街商户乱挂横幅灯箱", "{addr}多家商户沿街悬挂横幅和灯箱，影响市容。"),
    ], "已责令限期拆除，对设置单位依法处罚", where="u", enforcement=True),
    I("SR04", "生活垃圾清运不及时", "市容环境/环境卫生", "CGJ", [], "NYNC", 1.8, [
        ("{place}垃圾收集点多日未清运", "{addr}垃圾收集点垃圾满溢，多日未清运，异味严重。"),
        ("{place}村口垃圾堆积", "{addr}村口垃圾堆积成堆，无人清理。"),
    ], "已协调保洁公司清运，增加清运频次", effort="simple"),
    # ---- 生态环境 ----
    I("HJ01", "秸秆焚烧", "生态环境/秸秆焚烧", "STHJ", ["NYNC"], "NYNC", 1.6, [
        ("{place}农田有人焚烧秸秆", "网格员巡查发现{addr}玉米地有人焚烧秸秆，烟雾较大。"),
        ("{place}地头发现秸秆焚烧火点", "{addr}地头有焚烧秸秆火点，已初步劝阻，需现场处置。"),
    ], "已现场扑灭火点，对当事人批评教育，落实秸秆还田", where="r", season="burn", urgent=0.6, effort="simple",
      devolved=True,
      limits={"check_in": {"normal": "2h", "urgent": "30m"}, "handle": {"normal": "1d", "urgent": "4h"}}),
    I("HJ02", "畜禽养殖污染", "生态环境/畜禽养殖污染", "STHJ", ["NYNC"], "NYNC", 1.2, [
        ("{place}养猪场粪污直排沟渠", "{addr}养猪场粪污未经处理直接排入村边沟渠，气味刺鼻。"),
        ("{place}养殖户粪便露天堆放", "{addr}养牛户粪便露天堆放，未采取防渗防雨措施。"),
    ], "已责令停止排放并清理粪污，限期建设粪污处理设施", where="r", season="summer", enforcement=True),
    I("HJ03", "河道乱倒垃圾", "生态环境/河道垃圾", "SLJ", ["CGJ"], "CGJ", 1.2, [
        ("{place}河道内倾倒建筑垃圾", "{addr}文峪河河道内有人倾倒建筑垃圾和生活垃圾，影响行洪。"),
        ("{place}排洪渠堆满垃圾", "{addr}排洪渠内垃圾堆积，汛期存在堵塞风险。"),
    ], "已清理河道垃圾，设置禁倒警示牌，落实河长巡河", season="flood"),
    I("HJ04", "工业企业违规排污", "生态环境/废气废水", "STHJ", [], "ZJJ", 0.8, [
        ("{place}企业夜间排放黑烟", "群众反映{addr}一家企业夜间烟囱冒黑烟，气味刺鼻。"),
        ("{place}厂区废水外排", "{addr}厂区有废水通过暗管排入农田灌溉渠。"),
    ], "已现场取样监测，责令停产整治，依法立案处罚", effort="complex", enforcement=True),
    I("HJ05", "噪声扰民", "生态环境/噪声污染", "STHJ", ["GAJ"], "GAJ", 1.2, [
        ("{place}夜间施工噪声扰民", "{addr}工地夜间 22 时后仍在施工，噪声扰民。"),
        ("{place}广场舞音响声音过大", "{addr}广场舞音响音量过大，影响周边居民休息。"),
    ], "已责令停止夜间施工，约谈相关负责人", where="u", season="summer", effort="simple"),
    I("HJ06", "散煤违规燃烧", "生态环境/清洁取暖", "STHJ", ["NYNC"], "NYNC", 1.2, [
        ("{place}有商户违规燃烧散煤", "{addr}一家商户使用散煤炉取暖，烟囱冒黑烟。"),
        ("{place}发现散煤销售点", "{addr}有人私设散煤销售点，向村民销售劣质散煤。"),
    ], "已收缴散煤，引导使用清洁取暖设备", season="heat", effort="simple"),
    # ---- 市场监管 ----
    I("SC01", "食品摊贩", "市场监管/食品安全", "SCJG", ["CGJ"], "CGJ", 1.6, [
        ("{place}学校门口无证食品摊贩", "{addr}学校门口有流动摊贩售卖无标签食品，卫生条件差。"),
        ("{place}夜市烧烤摊卫生问题", "{addr}夜市烧烤摊经营者无健康证，食材来源不明。"),
    ], "已取缔无证摊点，对经营者开展食品安全教育", where="u", season="summer", effort="simple"),
    I("SC02", "无照经营", "市场监管/无证无照", "SCJG", [], "CGJ", 0.9, [
        ("{place}一家商店无照经营", "{addr}新开一家商店未办理营业执照即开业经营。"),
        ("{place}出租屋内无证加工食品", "{addr}出租屋内无证加工豆制品，卫生条件差。"),
    ], "已责令停止经营，依法立案查处", enforcement=True),
    I("SC03", "假劣农资", "市场监管/农资质量", "NYNC", ["SCJG"], "SCJG", 0.9, [
        ("{place}有人流动销售假化肥", "{addr}有外地车辆流动销售化肥，无标识无票据，村民反映肥效差。"),
        ("{place}农资店销售过期农药", "{addr}农资店货架上发现过期农药。"),
    ], "已查扣涉案农资，对销售者立案处罚，协助农户索赔", where="r", season="farm", enforcement=True),
    # ---- 安全生产 ----
    I("AQ01", "消防通道堵塞", "安全生产/消防安全", "YJGL", ["GAJ"], "CGJ", 1.3, [
        ("{place}小区消防通道被私家车堵塞", "{addr}小区消防通道长期被私家车占用，消防车无法通行。"),
        ("{place}商铺占用消防通道堆放货物", "{addr}商铺在消防通道堆放货物。"),
    ], "已清理消防通道，施划禁停标线，督促物业落实巡查", where="u", season="heat", effort="simple"),
    I("AQ02", "非法储存烟花爆竹", "安全生产/危险物品", "YJGL", ["GAJ"], "GAJ", 0.6, [
        ("{place}民房内非法储存烟花爆竹", "{addr}一处民房内囤积大量烟花爆竹，周边为居民区。"),
        ("{place}小卖部无证销售烟花爆竹", "{addr}一家小卖部无证销售烟花爆竹。"),
    ], "已依法收缴并转运至合规仓库，对当事人立案查处", season="festival", urgent=0.5, enforcement=True,
      limits={"handle": {"normal": "3d", "urgent": "24h"}}),
    I("AQ03", "“三小场所”安全隐患", "安全生产/三小场所", "YJGL", ["SCJG"], "SCJG", 0.9, [
        ("{place}小作坊电线私拉乱接", "{addr}小作坊内电线私拉乱接，住人与生产经营混用。"),
        ("{place}小饭馆未配备灭火器", "{addr}小饭馆后厨未配备灭火器，燃气管线老化。"),
    ], "已下达整改通知书，督促完成隐患整改并复查"),
    I("AQ04", "取暖煤气中毒隐患", "安全生产/取暖安全", "YJGL", ["ZJJ"], "ZJJ", 1.0, [
        ("{place}独居老人燃煤取暖无烟道", "{addr}独居老人使用燃煤炉取暖，未安装烟道和一氧化碳报警器。"),
        ("{place}出租屋煤炉取暖通风不良", "{addr}出租屋内多户使用煤炉取暖，通风不良。"),
    ], "已上门安装一氧化碳报警器，改造烟道，开展安全宣传", season="heat", urgent=0.4, effort="simple"),
    # ---- 农业水利 ----
    I("NY01", "病死畜禽乱丢弃", "农业农村/动物防疫", "NYNC", ["STHJ"], "STHJ", 0.8, [
        ("{place}路边沟内发现病死猪", "{addr}路边沟内发现多头病死猪，疑似被人丢弃。"),
        ("{place}河边丢弃死禽", "{addr}河边丢弃大量死鸡，气味难闻。"),
    ], "已进行无害化处理并消毒，追查丢弃来源", where="r", urgent=0.3, effort="simple"),
    I("SL01", "河道非法采砂", "水利/河道管理", "SLJ", ["ZRZY", "GAJ"], "ZRZY", 0.7, [
        ("{place}文峪河段有人非法采砂", "{addr}文峪河河道内有装载机作业采砂。"),
        ("{place}河滩夜间盗采砂石", "{addr}河滩夜间有车辆盗采砂石。"),
    ], "已查扣采砂机具，恢复河道原貌，依法立案查处", where="r", season="flood", effort="complex", enforcement=True),
    I("SL02", "防汛沟渠堵塞", "水利/防汛", "SLJ", ["NYNC"], "JTYS", 0.8, [
        ("{place}排水沟渠堵塞", "{addr}排水沟渠被杂物堵塞，降雨后农田积水。"),
        ("{place}涵洞淤积影响泄洪", "{addr}涵洞淤积严重，汛期存在漫溢风险。"),
    ], "已组织清淤疏通，落实汛期巡查", where="r", season="flood", urgent=0.4),
    # ---- 交通运输 ----
    I("JT01", "非法营运", "交通运输/非法营运", "JTYS", ["GAJ"], "GAJ", 0.8, [
        ("{place}有黑车长期拉客", "{addr}有无营运资质车辆长期在路口招揽乘客。"),
        ("{place}面包车超员非法载客", "{addr}面包车超员载客往返县城。"),
    ], "已查扣非法营运车辆，对驾驶员依法处罚", enforcement=True),
    I("JT02", "农村公路破损", "交通运输/道路设施", "JTYS", [], "ZJJ", 1.2, [
        ("{place}村道路面塌陷", "{addr}村道路面出现塌陷坑，夜间存在安全隐患。"),
        ("{place}公路弯道护栏损坏", "{addr}公路弯道护栏被撞损坏，一直未修复。"),
    ], "已设置警示标志并完成修补", where="r", urgent=0.2),
    # ---- 公安、卫健、文旅 ----
    I("GA01", "校园周边交通秩序", "社会治安/交通秩序", "GAJ", ["JTYS"], "JTYS", 0.8, [
        ("{place}学校门口上下学时段车辆乱停", "{addr}学校门口上下学时段车辆乱停乱放，存在安全隐患。"),
        ("{place}路口电动车逆行严重", "{addr}路口电动车逆行、闯红灯现象突出。"),
    ], "已安排护学岗，施划停车位，开展交通安全宣传", where="u", effort="simple"),
    I("WS01", "非法行医", "卫生健康/医疗秩序", "WJJ", [], "SCJG", 0.5, [
        ("{place}有人无证开设诊所", "{addr}一处民房内有人无《医疗机构执业许可证》开展输液治疗。"),
        ("{place}集市游医摆摊看病", "{addr}集市上有游医摆摊看病售药。"),
    ], "已取缔非法诊所，没收药品器械，依法处罚", enforcement=True),
    I("WH01", "文物周边违规施工", "文化旅游/文物保护", "WHLY", ["ZRZY"], "ZJJ", 0.4, [
        ("{place}文物保护范围内违规施工", "{addr}县级文物保护单位保护范围内有人开挖地基。"),
        ("{place}古民居墙体被刷涂广告", "{addr}古民居墙体被刷涂广告。"),
    ], "已责令停止施工，组织文物部门现场勘查", effort="complex"),
    I("WH02", "网吧违规接纳未成年人", "文化旅游/文化市场", "WHLY", ["GAJ"], "GAJ", 0.5, [
        ("{place}网吧接纳未成年人上网", "群众反映{addr}网吧有未成年人上网。"),
        ("{place}歌厅超时营业", "{addr}歌厅凌晨仍在营业，噪声扰民。"),
    ], "已依法查处，责令停业整顿", where="u", enforcement=True),
)
ITEM_BY_CODE = {i.code: i for i in CATALOG}

# 一乡镇一清单: (item, township) → override body
OVERRIDES = {
    ("GT01", "LHL"): {"lead_unit": "LHL-ZFD", "assist_units": ["ZRZY"],
                      "limits": {"handle": {"normal": "7d", "urgent": "48h"}}},  # 赋权试点
    ("HJ03", "XY"): {"lead_unit": "XY-ZFD", "assist_units": ["SLJ"]},  # 文峪河 runs through 孝义镇
    ("SR01", "KZ"): {"lead_unit": "CGJ", "assist_units": ["SCJG", "JTYS"], "limits": {"handle": {"normal": "3d"}}},
    ("HJ01", "MX"): {"lead_unit": "NYNC", "assist_units": ["STHJ"]},  # no team in 马西乡
}

# ---- texts -------------------------------------------------------------------------------------
SURNAMES = "王李张刘郭武贾任杨赵田韩梁侯薛闫段冯霍高乔孟温史白"
GIVEN = ("建国", "志强", "海燕", "丽萍", "晓东", "俊杰", "国庆", "红梅", "永红", "少华", "文斌", "鹏飞", "雪梅",
         "春生", "秀英", "晋生", "玉兰", "宏伟", "卫东", "彦军", "瑞芳", "慧敏", "振华", "利军", "小平", "艳芳",
         "建平", "晓燕", "志刚", "素琴", "晓峰", "亚楠", "浩然", "佳琪", "子豪", "婷婷", "宇航", "丽娜")
URBAN_SPOTS = ("文兴路 {n} 号", "汾州街 {n} 号", "则天路 {n} 号", "新华街 {n} 号", "{n} 号楼", "农贸市场东侧")
RURAL_SPOTS = ("村东头", "村西 200 米", "村南路口", "村北农田", "{n} 组", "村委会旁", "村口桥头")
REJECT_REASONS = ("经现场核实，反映情况不属实", "属于民事纠纷，已引导当事人通过调解或诉讼途径解决",
                  "信息不全且无法联系反映人，无法核实", "不属于本乡镇管辖范围，已告知反映人向属地反映")
EXT_REASONS = ("需委托第三方测绘确定占地面积", "当事人外出务工，需等待其返乡后处理",
               "整改涉及设备采购安装，需延长办理时限", "需协调多个部门开展联合执法")
SUSPEND_REASONS = ("当事人已申请行政复议，待复议结果后继续办理", "涉及土地权属争议，待确权后处理",
                   "冬季冻土期无法施工，待来年开春后整改", "涉案当事人住院治疗，暂缓办理")
FAIL_NOTES = ("现场核查发现整改不到位，垃圾仍有残留，退回返工", "违建仅拆除一部分，要求全部拆除",
              "问题反弹，现场又出现同类情况", "整改照片与现场不符，要求重新处理")
PARTIAL = ("部分整改需待天气转暖后实施", "当事人尚未全部整改，已下达限期整改通知",
           "主体问题已解决，遗留问题纳入后续跟踪")
NOT_RESOLVABLE = "经现场核实，该问题属历史遗留问题，现阶段不具备整改条件，已纳入台账跟踪管理"
TRANSFERRED = ("经调查，当事人涉嫌违法犯罪，已依法移送县公安局处理", "已制作案件移送函，移送司法机关依法处理")
STATE_ORDER = (lc.REPORTED, lc.ACCEPTED, lc.DISPATCHED, lc.HANDLING, lc.FEEDBACK, lc.CLOSED, lc.REJECTED,
               lc.MERGED, lc.RETURNED, lc.DISPUTED, lc.SUSPENDED)


# ---- working time: the project's own calendar (flows.calendar), loaded from the database ---------
def add_working(cal: WorkingCalendar, t: datetime, minutes: float) -> datetime:
    """`t` plus `minutes` of working time, in local time."""
    return cal.add_working_minutes(t, minutes)[0].astimezone(LOCAL_TZ)


def working_days_before(cal: WorkingCalendar, t: datetime, days: int) -> date:
    day = t.astimezone(LOCAL_TZ).date()
    while days > 0:
        day -= timedelta(days=1)
        days -= cal.is_workday(day)
    return day


def months_before(t: datetime, months: int) -> datetime:
    local = t.astimezone(LOCAL_TZ)
    y, m = divmod(local.year * 12 + local.month - 1 - months, 12)
    day = min(local.day, 28)
    return local.replace(year=y, month=m + 1, day=day)


# ---- plans -------------------------------------------------------------------------------------
@dataclass
class Step:
    at: datetime
    action: str
    who: Actor
    body: dict | Callable[[], dict]
    to: str  # the state the case must be in afterwards
    lead: str | None = None  # the lead unit a dispatch/arbitrate must reach


@dataclass
class Plan:
    n: int
    township: TownshipSpec
    item: ItemSpec
    grid: int  # 0-based grid index within the township
    source: str
    reporter: Actor
    problem: tuple[str, str, str] = ("", "", "")  # title, description, address as first seen
    steps: list[Step] = field(default_factory=list)
    state: str = lc.REPORTED  # planned state after the last step
    final_at: datetime | None = None  # when it reached a final state
    case_id: int | None = None
    status: str | None = None  # actual state after replay


class Script:
    """Writes one case's steps in order; time only moves forward and a step after `now` is never written."""

    def __init__(self, demo: "Demo", plan: Plan, t0: datetime, urgent: bool):
        self.d, self.p, self.t, self.urgent = demo, plan, t0, urgent
        self.done = False

    def spend(self, minutes: float) -> None:
        """Let `minutes` pass: working time for normal cases, wall-clock time for urgent ones."""
        self.until(self.d.after(self.t, minutes, self.urgent))

    def until(self, t: datetime) -> None:
        """Move to `t` (never backwards: at least a minute after the previous step), to whole seconds."""
        t = max(t, self.t + timedelta(minutes=1))
        self.t = t.replace(second=self.d.rng.randrange(60), microsecond=0)  # still after the previous step

    def do(self, action: str, who: Actor, body, to: str | None = None, lead: str | None = None) -> bool:
        if self.done or self.t > self.d.now:
            self.done = True
            return False
        to = self.p.state if to is None else to
        self.p.steps.append(Step(self.t, action, who, body, to, lead))
        self.p.state = to
        if to in lc.FINAL_STATES:
            self.p.final_at = self.t
        return True


# ---- the builder -------------------------------------------------------------------------------
class Demo:
    def __init__(self, svc: Services, cal: WorkingCalendar, seed: int, months: int, log):
        self.svc, self.cal, self.log = svc, cal, log
        self.rng = random.Random(seed)
        self.now = svc.clock().astimezone(LOCAL_TZ)
        self.start = months_before(self.now, months)
        self.org_time = self.start - timedelta(days=30)  # the county was set up before the history begins
        self.units: dict[str, dict] = {}  # code → unit dict from the service
        self.actors: dict[str, Actor] = {}
        self.officers: dict[str, list[tuple[str, str | None, date | None]]] = {}  # unit → (user, cert, expires)
        self.plans: list[Plan] = []
        self.admin_created = False
        self.county = COUNTY_CODE

    # ---- organisation ---------------------------------------------------------------------------
    async def refuse_if_loaded(self) -> None:
        async with self.svc.db.read() as s:
            kinds = dict((await s.execute(select(Unit.kind, func.count()).group_by(Unit.kind))).all())
            cases = (await s.execute(select(func.count()).select_from(Case))).scalar_one()
            users = (await s.execute(
                select(func.count()).select_from(User).where(User.username != "admin"))).scalar_one()
        others = sum(n for k, n in kinds.items() if k != "county")
        if kinds.get("township") or others or cases or users:
            found = f"乡镇 {kinds.get('township', 0)} 个、单位 {others} 个、用户 {users} 个、案件 {cases} 件"
            raise DemoExists(
                f"数据库中已有数据（{found}），演示数据只能装入空库；SQLite 可用 `chuishao demo --reset` 重建",
                f"the database already holds data ({kinds.get('township', 0)} townships, {others} units, "
                f"{users} users, {cases} cases); the demo only loads into an empty database "
                "(for SQLite use `chuishao demo --reset`)")

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    async def unit(self, code: str, name: str, kind: str, parent: str | None, polygon: dict | None = None) -> None:
        body = {"code": code, "name": name, "kind": kind}
        if parent:
            body["parent"] = parent
        if polygon:
            body["polygon"] = polygon
        self.units[code] = await self.svc.admin.create_unit(body, self.org_time)

    async def user(self, username: str, role: str, unit: str, *, cert: str | None = None,
                   expires: date | None = None) -> None:
        body = {"username": username, "password": DEMO_PASSWORD, "name": self.person(), "role": role, "unit": unit}
        if cert:
            body |= {"certificate_no": cert, "certificate_expires": expires.isoformat()}
        u = await self.svc.admin.create_user(body, self.org_time, check_password_policy=False)  # public on purpose
        info = self.units[unit]
        township = None
        if info["kind"] == "township":
            township = info["id"]
        elif info["kind"] in ("grid", "team"):
            township = self.units[info["parent"]]["id"]
        self.actors[username] = Actor(u["id"], username, role, info["id"], unit, township)
        if role == "department_officer":
            self.officers.setdefault(unit, []).append((username, cert, expires))

    def grid_geometry(self, tw: TownshipSpec, i: int) -> tuple[float, float, dict | None]:
        if i < POLYGON_GRIDS:
            cx, cy = tw.lon + (i - 1) * 0.02, tw.lat + 0.006
            corners = ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))  # closed ring, counter-clockwise
            ring = [(cx + dx * GRID_HALF, cy + dy * GRID_HALF) for dx, dy in corners]
            return cx, cy, {"type": "Polygon", "coordinates": [[[round(x, 4), round(y, 4)] for x, y in ring]]}
        return tw.lon + (i - 3.5) * 0.02, tw.lat - 0.014, None

    async def build_org(self) -> None:
        today = self.now.date()
        self.admin_created = await bootstrap(self.svc.admin, county_code=COUNTY_CODE, county_name=COUNTY_NAME,
                                             admin_password=DEMO_PASSWORD, now=self.org_time,
                                             check_password_policy=False)  # the public demo password
        async with self.svc.db.read() as s:
            county = (await s.execute(select(Unit).where(Unit.kind == "county"))).scalar_one_or_none()
            admin = (await s.execute(select(User).where(User.username == "admin"))).scalar_one()
        if county is None:  # an admin without a county: only possible in a hand-made database
            await self.unit(COUNTY_CODE, COUNTY_NAME, "county", None)
        else:
            self.units[county.code] = {"id": county.id, "code": county.code, "kind": "county", "parent": None}
        self.county = county.code if county else COUNTY_CODE
        self.actors["admin"] = Actor(admin.id, "admin", "admin", admin.unit_id, self.county, None)
        self.log(f"县 county {self.county}：管理员 admin {'已创建 created' if self.admin_created else '已存在 exists'}")

        for tw in TOWNSHIPS:
            await self.unit(tw.code, tw.name, "township", self.county)
            for i, place in enumerate(tw.places):
                _, _, polygon = self.grid_geometry(tw, i)
                await self.unit(f"{tw.code}-G{i + 1}", f"{tw.name}{place}网格", "grid", tw.code, polygon)
            if tw.team:
                await self.unit(tw.team_code, f"{tw.name}综合行政执法队", "team", tw.code)
        for d in DEPARTMENTS:
            await self.unit(d.code, d.name, "department", self.county)
        self.log(f"单位 units: {len(self.units)}（乡镇 {len(TOWNSHIPS)}、网格 {5 * len(TOWNSHIPS)}、"
                 f"部门 {len(DEPARTMENTS)}、执法队 {sum(t.team for t in TOWNSHIPS)}）")

        for item in CATALOG:
            body = {"code": item.code, "name": item.name, "category": item.category, "lead_unit": item.lead,
                    "assist_units": list(item.assists), "devolved": item.devolved, "enforcement": item.enforcement}
            if item.limits:
                body["limits"] = item.limits
            await self.svc.admin.create_item(body)
        for (code, township), body in OVERRIDES.items():
            await self.svc.admin.set_override(code, township, body)
        self.log(f"事项清单 catalog: {len(CATALOG)} 项 items，乡镇覆盖 overrides {len(OVERRIDES)} 条")

        cert_no = iter(range(1, 1000))

        def cert(valid_days: int) -> tuple[str, date]:
            return f"1411{2019 + self.rng.randrange(6)}{next(cert_no):05d}", today + timedelta(days=valid_days)

        await self.user("supervisor", "county_supervisor", self.county)
        for tw in TOWNSHIPS:
            await self.user(f"{tw.prefix}_dispatcher", "township_dispatcher", tw.code)
            await self.user(f"{tw.prefix}_liaison", "township_liaison", tw.code)
            for i in range(len(tw.places)):
                await self.user(f"{tw.prefix}_g{i + 1}", "grid_worker", f"{tw.code}-G{i + 1}")
            if tw.team:
                prefix = f"{tw.prefix}_zfd"
                await self.user(f"{prefix}_liaison", "department_liaison", tw.team_code)
                for k in range(1, 3 + (tw.code == "FC")):
                    no, exp = cert(self.rng.randint(200, 1100))
                    await self.user(f"{prefix}_officer{k}", "department_officer", tw.team_code, cert=no, expires=exp)
        for d in DEPARTMENTS:
            prefix = d.code.lower()
            await self.user(f"{prefix}_liaison", "department_liaison", d.code)
            for k in range(1, d.officers + 1):
                if (d.code, k) == ("ZRZY", 3):
                    no, exp = cert(-24)  # expired three weeks ago: no longer counts for enforcement
                elif (d.code, k) == ("SCJG", 3):
                    no, exp = cert(12)  # about to expire
                elif (d.code, k) == ("WJJ", 3):
                    no, exp = None, None  # newly recruited, no certificate yet
                else:
                    no, exp = cert(self.rng.randint(200, 1100))
                await self.user(f"{prefix}_officer{k}", "department_officer", d.code, cert=no, expires=exp)
        self.log(f"用户 users: {len(self.actors)}（统一演示密码 demo password {DEMO_PASSWORD}）")

    # ---- routing and people, mirrored from the catalog so the plan knows who will act -------------
    def route(self, item: ItemSpec, tw: TownshipSpec) -> tuple[str, list[str]]:
        """Where a dispatch without an explicit unit goes: override, township team (devolved), item default."""
        ov = OVERRIDES.get((item.code, tw.code), {})
        lead = ov.get("lead_unit") or (tw.team_code if item.devolved else None) or item.lead
        assists = ov.get("assist_units", list(item.assists))
        return lead, [a for a in dict.fromkeys(assists) if a != lead]

    def alt_unit(self, item: ItemSpec, lead: str) -> str:
        if item.alt != lead:
            return item.alt
        return next(a for a in (item.lead, *item.assists, "CGJ", "ZJJ") if a != lead and a in DEPT_BY_CODE)

    def speed(self, unit: str) -> Speed:
        return DEPT_BY_CODE[unit].speed if unit in DEPT_BY_CODE else TEAM_SPEED

    def unit_name(self, unit: str) -> str:
        return self.units[unit]["name"]

    def liaison(self, unit: str) -> Actor:
        return self.actors[f"{unit.lower().replace('-', '_')}_liaison" if unit in DEPT_BY_CODE
                           else f"{self.team_prefix(unit)}_liaison"]

    def team_prefix(self, team_code: str) -> str:
        return next(f"{t.prefix}_zfd" for t in TOWNSHIPS if t.team_code == team_code)

    def pick_officers(self, unit: str, day: date, enforcement: bool) -> list[str]:
        staff = self.officers[unit]
        if enforcement:
            valid = [u for u, no, exp in staff if no and exp and exp >= day]
            if len(valid) < 2:
                raise RuntimeError(f"demo data: {unit} has fewer than two certified officers on {day}")
            return self.rng.sample(valid, 2)
        return self.rng.sample([u for u, _, _ in staff], self.rng.choice((1, 1, 2)))

    # ---- one case ---------------------------------------------------------------------------------
    def new_plan(self, tw: TownshipSpec, item: ItemSpec, t0: datetime, source: str | None = None,
                 reporter: Actor | None = None, grid: int | None = None) -> tuple[Plan, dict]:
        rng = self.rng
        grid = rng.randrange(len(tw.places)) if grid is None else grid
        if source is None:
            source = rng.choices(("grid", "hotline", "inspection", "public", "county"), (55, 22, 10, 8, 5))[0]
        if reporter is None:
            reporter = self.actors[{"grid": f"{tw.prefix}_g{grid + 1}", "hotline": f"{tw.prefix}_dispatcher",
                                    "public": f"{tw.prefix}_dispatcher", "inspection": f"{tw.prefix}_liaison",
                                    "county": "supervisor"}[source]]
        place = tw.places[grid]
        spot = rng.choice(URBAN_SPOTS if place.endswith("社区") else RURAL_SPOTS).format(n=rng.randint(1, 120))
        addr = f"{tw.name}{place}{spot}"
        title, desc = rng.choice(item.cases)
        title, desc = title.format(place=place), desc.format(place=place, addr=addr)
        problem = (title, desc, addr)
        if source == "hotline":
            title, desc = f"【12345】{title}", f"12345 热线工单：市民来电反映，{desc}"
        elif source == "public":
            desc = f"群众来访反映：{desc}"
        elif source == "county":
            title, desc = f"【县级交办】{title}", f"县领导督查发现并交办：{desc}"
        cx, cy, polygon = self.grid_geometry(tw, grid)
        spread = GRID_HALF - 0.0015 if polygon else 0.004
        lon, lat = round(cx + rng.uniform(-spread, spread), 6), round(cy + rng.uniform(-spread, spread), 6)
        body = {"title": title, "description": desc, "address": addr, "source": source}
        if source == "grid" and polygon and rng.random() < 0.5:
            body |= {"lat": lat, "lon": lon}  # only the phone's GPS point: the grid is found from its polygon
        else:
            body |= {"township": tw.code, "grid": f"{tw.code}-G{grid + 1}", "lat": lat, "lon": lon}
        if source in ("grid", "inspection", "county") and rng.random() < 0.75:
            body["category"] = item.code
        urgent = rng.random() < item.urgent
        if urgent and rng.random() < 0.8:
            body["urgency"] = "urgent"
        plan = Plan(len(self.plans), tw, item, grid, source, reporter, problem)
        self.plans.append(plan)
        return plan, {"body": body, "t0": t0, "urgent": urgent}

    def walk(self, plan: Plan, opening: dict, *, end: str | None = None, reject: bool = False, returns: int = 0,
             escalate: bool = False, rework: int = 0, suspend: bool = False, extension: str | None = None,
             outcome: str | None = None) -> Script:
        """Plan one case from report along the loop, stopping at `end` (a state) or at `now`. Every wait is
        drawn against the limit the case's clock will apply, so most steps finish in time and slow units
        are late more often."""
        rng, tw, item = self.rng, plan.township, plan.item
        report = opening["body"]
        s = Script(self, plan, opening["t0"], report.get("urgency") == "urgent")
        disp, tl, sup = (self.actors[f"{tw.prefix}_dispatcher"], self.actors[f"{tw.prefix}_liaison"],
                         self.actors["supervisor"])
        s.do("report", plan.reporter, report, lc.REPORTED)
        if end == lc.REPORTED:
            return s
        s.spend(self.delay(plan, "accept", s.urgent))
        if reject:
            s.do("reject", disp, {"reason": rng.choice(REJECT_REASONS)}, lc.REJECTED)
            return s
        accept: dict = {}
        if "category" not in report:
            accept["category"] = item.code
        if opening["urgent"] and not s.urgent:
            accept["urgency"] = "urgent"  # the dispatcher raises it on reading the report
        if rng.random() < 0.3:
            accept["note"] = "情况属实，予以受理"
        s.do("accept", disp, accept, lc.ACCEPTED)
        s.urgent = opening["urgent"]
        if end == lc.ACCEPTED:
            return s

        lead, assists = self.route(item, tw)
        alt = self.alt_unit(item, lead)
        s.spend(self.delay(plan, "dispatch", s.urgent))
        if escalate:  # the lead returns it, the dispatcher sends the dispute up
            s.do("dispatch", disp, {}, lc.DISPATCHED, lead=lead)
            s.spend(self.delay(plan, "check_in", s.urgent, lead))
            s.do("return", self.liaison(lead), {"reason": f"本单位认为该事项应由{self.unit_name(alt)}牵头办理，"
                                                          "本单位无相应执法权限"}, lc.RETURNED)
            if end == lc.RETURNED:
                return s
            s.spend(self.delay(plan, "dispatch", s.urgent))
            s.do("escalate_dispute", disp, {"reason": f"{self.unit_name(lead)}与{self.unit_name(alt)}对管辖存在"
                                                      "争议，提请县级裁定"}, lc.DISPUTED)
            if end == lc.DISPUTED:
                return s
            s.spend(self.delay(plan, "arbitrate", s.urgent))
            assists = [a for a in dict.fromkeys([*assists, alt]) if a != lead]
            s.do("arbitrate", sup, {"lead_unit": lead, "assist_units": assists,
                                    "note": f"经县级协调，明确由{self.unit_name(lead)}主办，不得再次退回"},
                 lc.DISPATCHED, lead=lead)
        elif returns:  # first sent to the wrong unit, which hands it back
            s.do("dispatch", disp, {"lead_unit": alt}, lc.DISPATCHED, lead=alt)
            s.spend(self.delay(plan, "check_in", s.urgent, alt))
            s.do("return", self.liaison(alt), {"reason": f"经核实，该事项属于{self.unit_name(lead)}职责范围，"
                                                         "非本单位管辖，请重新派发"}, lc.RETURNED)
            if end == lc.RETURNED:
                return s
            s.spend(self.delay(plan, "dispatch", s.urgent))
            s.do("dispatch", disp, {"note": "已按事项清单重新派发"}, lc.DISPATCHED, lead=lead)
            if returns >= 2:  # ...and the right one pushes it back too: a dispute
                s.spend(self.delay(plan, "check_in", s.urgent, lead))
                s.do("return", self.liaison(lead), {"reason": f"该事项应由{self.unit_name(alt)}牵头处理，"
                                                              "请县级协调明确"}, lc.DISPUTED)
                if end == lc.DISPUTED:
                    return s
                s.spend(self.delay(plan, "arbitrate", s.urgent))
                assists = [a for a in dict.fromkeys([*assists, alt]) if a != lead]
                s.do("arbitrate", sup, {"lead_unit": lead, "assist_units": assists,
                                        "note": f"经县级裁定，由{self.unit_name(lead)}主办，"
                                                f"{self.unit_name(alt)}协办"}, lc.DISPATCHED, lead=lead)
        else:
            s.do("dispatch", disp, {"note": "请 30 分钟内到场处置"} if s.urgent else {}, lc.DISPATCHED, lead=lead)
        if end == lc.DISPATCHED:
            return s
        self.check_ins(s, plan, lead, assists)
        self.handling(s, plan, lead, end=end, suspend=suspend, extension=extension)
        if end in (lc.HANDLING, HANDLING_EXT, lc.SUSPENDED):
            return s

        quality = self.speed(lead).quality - 0.1 * (returns + escalate)
        for attempt in range(rework + 1):
            final = attempt == rework
            if attempt:  # rework after a failed verification: a fresh, usually short, handling clock
                s.spend(self.delay(plan, "handle", s.urgent, lead, quick=0.4))
            result = self.result(item, outcome if final else "resolved")
            officers = self.pick_officers(lead, s.t.date(), item.enforcement)
            s.do("feedback", self.actors[officers[0]], {"outcome": result[0], "result": result[1],
                                                        "officers": officers}, lc.FEEDBACK)
            if end == lc.FEEDBACK and final:
                return s
            s.spend(self.delay(plan, "verify", s.urgent))
            verifier = plan.reporter if plan.reporter.role == "grid_worker" and rng.random() < 0.3 else tl
            if final:
                r = rng.random()
                sat = "satisfied" if r < quality else "basic" if r < quality + (1 - quality) * 0.7 else "unsatisfied"
                rating = {"satisfied": rng.choice((4, 5, 5)), "basic": rng.choice((3, 4)),
                          "unsatisfied": rng.choice((2, 3))}[sat]
                note = "现场核查，整改到位" if result[0] == "resolved" else "已核实办理情况，同意结案"
                s.do("verify", verifier, {"passed": True, "note": note, "satisfaction": sat, "rating": rating},
                     lc.CLOSED)
            else:
                s.do("verify", verifier, {"passed": False, "note": rng.choice(FAIL_NOTES),
                                          "satisfaction": "unsatisfied", "rating": 2}, lc.HANDLING)
        return s

    def check_ins(self, s: Script, plan: Plan, lead: str, assists: list[str]) -> None:
        """报到: the lead checks in against its check-in limit; assisting units check in around the same time,
        or never when they are late. A late lead gets an urge at its deadline and a 督办 after escalation."""
        rng, tw = self.rng, plan.township
        t0 = s.t
        limit = self.limit_minutes(plan, "check_in", s.urgent)
        t_lead = self.after(t0, self.delay(plan, "check_in", s.urgent, lead), s.urgent)
        moments = [(t_lead, "check_in", lead)]
        for a in assists:
            minutes = self.delay(plan, "check_in", s.urgent, a)
            if minutes <= limit and rng.random() < 0.9:  # a late assisting unit often never reports at all
                moments.append((min(self.after(t0, minutes, s.urgent), t_lead + timedelta(minutes=rng.randint(5, 90))),
                                "check_in", a))
        deadline = self.after(t0, limit, s.urgent) + timedelta(minutes=rng.randint(5, 40))
        if t_lead > deadline and rng.random() < 0.8:
            moments.append((deadline, "urge", None))
            escalation = self.after(deadline, 240 if s.urgent else WORKDAY_MINUTES, s.urgent)
            if t_lead > escalation and rng.random() < 0.7:
                moments.append((escalation, "supervise", None))
        for t, action, unit in sorted(moments, key=lambda m: m[0]):
            s.until(t)
            if action == "urge":
                s.do("urge", rng.choice((self.actors[f"{tw.prefix}_dispatcher"], self.actors[f"{tw.prefix}_liaison"])),
                     {"note": "已超过报到时限，请尽快到场报到"})
            elif action == "supervise":
                s.do("supervise", self.actors["supervisor"], {"note": "县级督办：接哨后长时间未报到，请立即落实"})
            else:
                note = rng.choice(("已到场", "已安排执法人员到现场", "收到，马上处理")) if rng.random() < 0.6 else None
                s.do("check_in", self.liaison(unit), {"note": note} if note else {},
                     lc.HANDLING if unit == lead else None)

    def handling(self, s: Script, plan: Plan, lead: str, *, end: str | None, suspend: bool,
                 extension: str | None) -> None:
        """办理, planned in the handling clock's own time (suspended time does not count): optional suspension,
        an extension asked before the deadline, an urge as the deadline nears, 督办 once it has escalated."""
        rng, tw = self.rng, plan.township
        tl = self.actors[f"{tw.prefix}_liaison"]
        limit = self.limit_minutes(plan, "handle", s.urgent)
        quick = 0.5 if plan.item.effort == "simple" else 1.0
        handle = self.delay(plan, "handle", s.urgent, lead, quick=quick)
        events: list[tuple[float, str]] = []
        days = rng.randint(3, 10)
        if extension and not s.urgent:
            asked = limit * rng.uniform(0.55, 0.8)  # before the deadline, as the rules require
            if extension == "approve":
                handle = limit * rng.uniform(0.9, 1.0) + days * WORKDAY_MINUTES * rng.uniform(0.3, 0.9)
            else:
                handle = limit * rng.uniform(0.85, 1.25)
            decided = asked + min(rng.uniform(30, 300), (handle - asked) / 2)
            events += [(asked, "request_extension"), (decided, "decide")]
        elif handle > limit * 0.9 and rng.random() < 0.6:
            events.append((limit * rng.uniform(0.8, 0.9), "urge"))
        escalation = limit + (240 if s.urgent else WORKDAY_MINUTES)
        if handle > escalation and extension != "approve" and rng.random() < 0.7:
            events.append((escalation + min(rng.uniform(10, 120), (handle - escalation) / 2), "supervise"))
        if suspend:
            events.append((min(handle, limit) * rng.uniform(0.2, 0.5), "suspend"))
        if end != lc.HANDLING:
            events.append((handle, "done"))
        elapsed = 0.0
        for at, what in sorted(events):
            s.spend(max(at - elapsed, 1.0))
            elapsed = max(at, elapsed + 1.0)
            if what == "done":  # the feedback follows in walk()
                return
            if what == "request_extension":
                s.do("request_extension", self.liaison(lead), {"working_days": days,
                                                               "reason": rng.choice(EXT_REASONS)})
                if end == HANDLING_EXT:
                    return
            elif what == "decide":
                if extension == "approve":
                    s.do("approve_extension", tl, {"note": "同意延期，请在延长期限内办结"})
                else:
                    s.do("deny_extension", tl, {"note": "该事项情况较简单，不同意延期，请按期办结"})
            elif what == "urge":
                s.do("urge", tl, {"note": "该案件即将超期，请加快办理并及时反馈"})
            elif what == "supervise":
                s.do("supervise", self.actors["supervisor"],
                     {"note": "县级督办：该案件已超期，请于 3 个工作日内办结并反馈"})
            elif what == "suspend":
                s.do("suspend", tl, {"reason": rng.choice(SUSPEND_REASONS)}, lc.SUSPENDED)
                if end == lc.SUSPENDED:
                    return
                s.spend(rng.uniform(3, 15) * WORKDAY_MINUTES)  # paused: not handling time
                s.do("resume", tl, {}, lc.HANDLING)

    # ---- time limits ---------------------------------------------------------------------------
    def limit_minutes(self, plan: Plan, kind: str, urgent: bool) -> float:
        """The limit the case's clock applies (township override, item, default), in planning minutes:
        working minutes for normal cases, wall-clock minutes for urgent ones."""
        override = OVERRIDES.get((plan.item.code, plan.township.code), {}).get("limits")
        spec = resolve_limit(kind, "urgent" if urgent else "normal", plan.item.limits, override)
        n, unit = int(spec[:-1]), spec[-1]
        return n * {"m": 1, "h": 60, "d": 1440 if urgent else WORKDAY_MINUTES}[unit]

    def delay(self, plan: Plan, kind: str, urgent: bool, unit: str | None = None, quick: float = 1.0) -> float:
        """How long a step takes: mostly well inside its limit, sometimes close to it, and late with the
        acting unit's lateness (township staff are rarely late)."""
        limit = self.limit_minutes(plan, kind, urgent)
        late = self.speed(unit).late if unit else TOWNSHIP_LATE
        r = self.rng.random()
        if r < late:
            share = self.rng.uniform(1.05, 1.9)
        elif r < late + 0.1:
            share = self.rng.uniform(0.8, 0.98)
        else:
            share = self.rng.uniform(0.05, 0.75) * quick
        return max(2.0, limit * share)

    def after(self, t: datetime, minutes: float, urgent: bool) -> datetime:
        return t + timedelta(minutes=minutes) if urgent else add_working(self.cal, t, minutes)

    def result(self, item: ItemSpec, outcome: str | None) -> tuple[str, str]:
        rng = self.rng
        if outcome is None:
            weights = (74, 8, 4, 14) if item.enforcement else (82, 10, 6, 2)
            outcome = rng.choices(("resolved", "partially_resolved", "not_resolvable", "transferred"), weights)[0]
        text = {"resolved": f"{item.fix}。",
                "partially_resolved": f"{item.fix}，但{rng.choice(PARTIAL)}。",
                "not_resolvable": f"{NOT_RESOLVABLE}。",
                "transferred": f"{rng.choice(TRANSFERRED)}。"}[outcome]
        return outcome, text

    # ---- the whole history ---------------------------------------------------------------------
    def item_weights(self, tw: TownshipSpec, month: int) -> list[float]:
        out = []
        for item in CATALOG:
            season = SEASONS[item.season]
            w = item.weight * season.get(month, season["_"])
            if item.where == "u":
                w *= 2.0 if tw.urban else 0.4
            elif item.where == "r":
                w *= 0.3 if tw.urban else 1.3
            out.append(w)
        return out

    def report_time(self, day: date, source: str) -> datetime:
        lo, hi = {"hotline": (7.0, 22.0), "grid": (8.0, 18.5)}.get(source, (8.5, 17.5))
        minutes = int(self.rng.uniform(lo, hi) * 60)
        return datetime.combine(day, time(minutes // 60, minutes % 60, self.rng.randrange(60)), LOCAL_TZ)

    def poisson(self, lam: float) -> int:
        limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def natural_options(self, plan: Plan) -> dict:
        """The path an ordinary case takes: mostly the plain loop, sometimes a side path."""
        r = self.rng.random()
        options: dict = {}
        if (plan.source in ("hotline", "public") and r < 0.10) or (plan.source == "grid" and r < 0.03):
            return {"reject": True}
        r = self.rng.random()
        if r < 0.07:
            options["returns"] = 1
        elif r < 0.10:
            options["returns"] = 2
        elif r < 0.115:
            options["escalate"] = True
        if self.rng.random() < 0.08:
            options["rework"] = 1
        if self.rng.random() < 0.03:
            options["suspend"] = True
        r = self.rng.random()
        if r < 0.07:
            options["extension"] = "approve"
        elif r < 0.09:
            options["extension"] = "deny"
        return options

    def plan_history(self) -> None:
        rng = self.rng
        day = self.start.date()
        while day <= self.now.date():
            for tw in TOWNSHIPS:
                weights = self.item_weights(tw, day.month)
                lam = tw.size * (0.85 if self.cal.is_workday(day) else 0.45)
                for _ in range(self.poisson(lam)):
                    item = rng.choices(CATALOG, weights)[0]
                    source = rng.choices(("grid", "hotline", "inspection", "public", "county"), (55, 22, 10, 8, 5))[0]
                    t0 = self.report_time(day, source)
                    if not self.start <= t0 <= self.now - timedelta(minutes=5):
                        continue
                    plan, opening = self.new_plan(tw, item, t0, source)
                    self.walk(plan, opening, **self.natural_options(plan))
            day += timedelta(days=1)
        natural = len(self.plans)
        self.plan_pinned()
        pinned = len(self.plans) - natural
        dups = self.plan_duplicates(self.plans[:natural], share=0.04)
        self.log(f"案件计划 planned: {natural} 件日常 ordinary + {pinned} 件示例 showcase + {dups} 件重复 duplicates")

    def plan_pinned(self) -> None:
        """Cases that make sure every state and side path is on show, reported in the last few weeks."""
        fc = TOWNSHIPS[0]
        showcase = [
            (lc.REPORTED, 0, {}), (lc.REPORTED, 0, {}),
            (lc.ACCEPTED, 1, {}), (lc.ACCEPTED, 1, {}),
            (lc.DISPATCHED, 1, {}), (lc.DISPATCHED, 2, {}), (lc.DISPATCHED, 2, {}),
            (lc.HANDLING, 3, {}), (lc.HANDLING, 4, {}),
            (HANDLING_EXT, 5, {"extension": "approve"}), (HANDLING_EXT, 6, {"extension": "approve"}),
            (HANDLING_EXT, 5, {"extension": "approve"}),
            (lc.FEEDBACK, 6, {}), (lc.FEEDBACK, 7, {}), (lc.FEEDBACK, 8, {"rework": 1}),
            (lc.RETURNED, 2, {"returns": 1}), (lc.RETURNED, 3, {"returns": 1}), (lc.RETURNED, 3, {"escalate": True}),
            (lc.DISPUTED, 4, {"returns": 2}), (lc.DISPUTED, 5, {"returns": 2}), (lc.DISPUTED, 4, {"escalate": True}),
            (lc.SUSPENDED, 8, {"suspend": True}), (lc.SUSPENDED, 10, {"suspend": True}),
            (lc.SUSPENDED, 12, {"suspend": True}),
            (lc.REJECTED, 2, {"reject": True}),
            (lc.CLOSED, 14, {"outcome": "resolved"}), (lc.CLOSED, 14, {"outcome": "partially_resolved"}),
            (lc.CLOSED, 14, {"outcome": "not_resolvable"}), (lc.CLOSED, 14, {"outcome": "transferred"}),
            (lc.CLOSED, 16, {"returns": 1}), (lc.CLOSED, 18, {"returns": 2}), (lc.CLOSED, 18, {"escalate": True}),
            (lc.CLOSED, 16, {"rework": 1}), (lc.CLOSED, 16, {"suspend": True}),
            (lc.CLOSED, 16, {"extension": "approve"}), (lc.CLOSED, 16, {"extension": "deny"}),
        ]
        items = ("GT01", "SR01", "HJ03", "SC01", "JS01", "AQ01", "SR04", "HJ02", "GT02")
        masters = []
        for k, (end, back, options) in enumerate(showcase):
            tw = fc if k % 2 == 0 else TOWNSHIPS[1 + k % (len(TOWNSHIPS) - 1)]
            item = ITEM_BY_CODE[items[k % len(items)]]
            reporter, grid = (self.actors["fc_g1"], 0) if tw is fc else (None, None)
            for attempt in range(8):
                if end == lc.REPORTED:
                    t0 = self.now - timedelta(minutes=self.rng.randint(20, 600))
                else:
                    day = working_days_before(self.cal, self.now, back + 2 * attempt)
                    t0 = datetime.combine(day, time(9 + self.rng.randrange(7), self.rng.randrange(60)), LOCAL_TZ)
                plan, opening = self.new_plan(tw, item, max(t0, self.start), "grid" if reporter else None,
                                              reporter, grid)
                opening["urgent"] = False
                opening["body"].pop("urgency", None)
                self.walk(plan, opening, end=end, **options)
                if end == HANDLING_EXT:
                    reached = plan.state == lc.HANDLING and plan.steps[-1].action == "request_extension"
                else:
                    reached = plan.state == end
                if reached or t0 <= self.start:
                    break
                self.plans.pop()  # cut off by `now`: start it earlier
            if end in (lc.DISPATCHED, lc.HANDLING) and plan.state == end:
                masters.append(plan)
        made = self.plan_duplicates(masters, share=1.0, limit=2)
        if not made:
            self.log("提示 note: 没有可合并的示例主案件 no open showcase case to merge a duplicate into")

    def plan_duplicates(self, masters: list[Plan], share: float, limit: int | None = None) -> int:
        """A second report of the same problem (usually by the hotline), merged into the open master."""
        made = 0
        for master in masters:
            if limit is not None and made >= limit:
                break
            if master.state in (lc.REJECTED, lc.MERGED) or self.rng.random() >= share:
                continue
            tw = master.township
            t0 = master.steps[0].at + timedelta(minutes=self.rng.randint(20, 300))
            if t0 > self.now - timedelta(minutes=5):
                continue
            plan, opening = self.new_plan(tw, master.item, t0, "hotline", grid=master.grid)
            title, desc, addr = plan.problem = master.problem  # the same problem, phoned in
            opening["body"] |= {"title": f"【12345】{title}", "description": f"12345 热线工单：市民来电反映，{desc}",
                                "address": addr}
            opening["body"].pop("urgency", None)
            urgent = master.steps[0].body.get("urgency") == "urgent"
            if urgent:
                opening["body"]["urgency"] = "urgent"
            s = Script(self, plan, t0, urgent)
            disp = self.actors[f"{tw.prefix}_dispatcher"]
            s.do("report", plan.reporter, opening["body"], lc.REPORTED)
            if self.rng.random() < 0.25:
                s.spend(self.rng.uniform(10, 90))
                accept = {} if "category" in opening["body"] else {"category": master.item.code}
                s.do("accept", disp, accept, lc.ACCEPTED)
            s.spend(self.rng.uniform(10, 120))
            if master.final_at is None or s.t < master.final_at:
                s.do("merge", disp, lambda m=master: {"into": m.case_id}, lc.MERGED)
            made += 1
        return made

    # ---- replay --------------------------------------------------------------------------------
    async def replay(self) -> tuple[int, int]:
        """Every step of every case in time order, with the deadline sweep running between them as it would
        have: alerts fire at (nearly) their historical time instead of all at once on the first `serve`."""
        events = sorted(((st.at, p.n, i) for p in self.plans for i, st in enumerate(p.steps)))
        total, tick = len(events), max(1, len(events) // 10)
        began = wallclock.monotonic()
        alerts, swept = 0, None
        for k, (at, n, i) in enumerate(events, 1):
            if swept is None or at - swept >= SWEEP_EVERY:
                alerts += len(await sweep(self.svc.db, self.cal, at))
                swept = at
            plan = self.plans[n]
            st = plan.steps[i]
            try:
                if st.action == "report":
                    view = await self.svc.cases.report(st.who, st.body, st.at)
                    plan.case_id = view["id"]
                else:
                    body = st.body() if callable(st.body) else st.body
                    view = await self.svc.cases.act(plan.case_id, st.action, st.who, body, st.at)
            except Exception as err:
                raise RuntimeError(f"demo step failed: case plan {n} ({plan.item.code} @ {plan.township.code}) "
                                   f"{st.action} by {st.who.username} at {st.at.isoformat()}: {err}") from err
            if view["status"] != st.to or (st.lead and view["lead_unit"] != st.lead):
                raise RuntimeError(f"demo step diverged: case {plan.case_id} {st.action} reached "
                                   f"{view['status']}/{view['lead_unit']}, planned {st.to}/{st.lead}")
            plan.status = view["status"]
            if k % tick == 0 or k == total:
                self.log(f"案件回放 replaying: {k}/{total} 步 steps（{wallclock.monotonic() - began:.1f} s）")
        alerts += len(await sweep(self.svc.db, self.cal, self.now))
        self.log(f"预警 alerts fired: {alerts}")
        return total, alerts


class _HashOnce:
    """Every demo user has the same public password; hash it once instead of ~120 times (argon2 is slow
    on purpose, ~0.2 s a hash). Each hash still verifies normally; a changed password gets its own."""

    def __init__(self, inner):
        self.inner, self.cache = inner, {}

    def hash(self, password: str) -> str:
        if password not in self.cache:
            self.cache[password] = self.inner.hash(password)
        return self.cache[password]

    def verify(self, hashed: str, password: str) -> bool:
        return self.inner.verify(hashed, password)


async def demo_loaded(svc: Services) -> bool:
    """Whether the database holds a demo county loaded to its end: its logins are the last thing written."""
    from flows.settings import read_setting

    return await read_setting(svc.db, DEMO_LOGINS_KEY) is not None


async def build_demo(svc: Services, *, seed: int = 2026, months: int = 3, log=print) -> str:
    """Fill an empty, migrated database with the demo county and its history; return a summary."""
    began = wallclock.monotonic()
    if months < 1:
        raise ValueError("months must be at least 1")
    now = svc.clock()
    demo = Demo(svc, await svc.cases.calendar.load(now), seed, months, log)
    await demo.refuse_if_loaded()
    log(f"演示县 demo county {COUNTY_NAME}：{demo.start:%Y-%m-%d} 至 {demo.now:%Y-%m-%d %H:%M}，seed {seed}")
    passwords = svc.admin.passwords
    svc.admin.passwords = _HashOnce(passwords)
    try:
        await demo.build_org()
    finally:
        svc.admin.passwords = passwords
    demo.plan_history()
    steps, alerts = await demo.replay()
    async with svc.db.transaction() as s:  # the login page and `chuishao serve` show these to a new user
        s.add(Setting(key=DEMO_LOGINS_KEY, value={"password": DEMO_PASSWORD, "logins": [
            [role, names] for role, names in DEMO_LOGINS if role != "admin" or demo.admin_created]}))
    return summary(demo, steps, alerts, wallclock.monotonic() - began)


def summary(demo: Demo, steps: int, alerts: int, elapsed: float) -> str:
    by_status = Counter(p.status for p in demo.plans)
    outcomes = Counter(p.steps[-2].body["outcome"] for p in demo.plans
                       if p.status == lc.CLOSED and p.steps[-2].action == "feedback")
    by_source = Counter(p.source for p in demo.plans)
    grids = 5 * len(TOWNSHIPS)
    lines = [
        f"{COUNTY_NAME}演示数据已生成 / demo county loaded（{elapsed:.1f} s）",
        f"  乡镇 townships {len(TOWNSHIPS)} · 网格 grids {grids}（{POLYGON_GRIDS * len(TOWNSHIPS)} 个带 GeoJSON 范围 "
        f"with polygons）· 县直部门 departments {len(DEPARTMENTS)} · 乡镇执法队 teams {sum(t.team for t in TOWNSHIPS)}",
        f"  事项清单 catalog items {len(CATALOG)}（乡镇覆盖 township overrides {len(OVERRIDES)}）· 用户 users "
        f"{len(demo.actors)}",
        f"  案件 cases {len(demo.plans)}（{demo.start:%Y-%m-%d} 至 {demo.now:%Y-%m-%d}），全过程记录 timeline "
        f"entries {steps}，预警 alerts {alerts}",
        "  按状态 by status: " + " · ".join(f"{lc.STATE_LABELS[s]} {s} {by_status[s]}" for s in STATE_ORDER),
        "  结案结果 closed outcomes: " + " · ".join(f"{o} {n}" for o, n in sorted(outcomes.items())),
        "  来源 sources: " + " · ".join(f"{s} {n}" for s, n in by_source.most_common()),
        f"  演示账号 demo logins（统一密码 password: {DEMO_PASSWORD}"
        + ("" if demo.admin_created else "；admin 沿用已有密码 keeps its existing password") + "）:",
    ]
    lines += [f"    {ROLE_LABELS[role]} {role}: {', '.join(names)}" for role, names in DEMO_LOGINS]
    prefixes = ", ".join(f"{t.prefix}={t.name}" for t in TOWNSHIPS)
    depts = ", ".join(d.code.lower() for d in DEPARTMENTS)
    lines += [
        f"  用户名规则 usernames: <乡镇>_dispatcher / _liaison / _g1…g5 / _zfd_liaison / _zfd_officerN（{prefixes}）；",
        f"    <部门>_liaison / _officerN（{depts}）",
    ]
    return "\n".join(lines)
