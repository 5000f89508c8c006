"""The demo county's data (文水县): its townships and grids, county departments and how quickly each works, the
catalog of items with their seasons and the words of their reports, the township overrides, the names and
reasons the generator draws from, and the demo's logins. Pure data: flows/demo/builder.py makes the history."""

from dataclasses import dataclass

DEMO_PASSWORD = "chuishao2026"
DEMO_LOGINS_KEY = "demo_logins"  # the settings row the login page reads them from (api/web/auth.py)
# (role, usernames): one or two of each role, in the order of the loop
DEMO_LOGINS = (("grid_worker", ["fc_g1", "fc_g2"]), ("township_dispatcher", ["fc_dispatcher"]),
               ("township_liaison", ["fc_liaison"]), ("department_liaison", ["zrzy_liaison", "fc_zfd_liaison"]),
               ("department_officer", ["zrzy_officer1", "fc_zfd_officer1"]), ("county_supervisor", ["supervisor"]),
               ("legal_reviewer", ["sfj_reviewer", "fc_sfs_reviewer"]), ("admin", ["admin"]))
COUNTY_CODE, COUNTY_NAME = "WS", "文水县"


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
